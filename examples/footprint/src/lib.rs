//! The shared part of the measurement programs (`src/bin/<kernel>.rs`) that `scripts/footprint.sh` runs.
//!
//! A program prints `footprint <kernel> <figure> <value>` lines over semihosting for what it measures itself
//! (painted stack, arena sizes) and calls [`start`]/[`end`] around each unit of work (a descriptor, a query,
//! an inference), so that the instruction counter (scripts/qemu-insncount) can count the instructions
//! between them. The script adds the flash figure from the size difference between the program and its
//! `baseline` build. Everything in this file is in both builds, so none of it counts as a kernel's flash.
#![no_std]

use core::sync::atomic::{compiler_fence, Ordering};
use cortex_m_semihosting::{debug, hprintln};

pub use cortex_m_rt::entry;

/// True in the `--features baseline` build, where each program skips its kernel.
pub const BASELINE: bool = cfg!(feature = "baseline");

/// Prints the kernel's name and the unit its instruction count is per (`descriptor`, `query`, ...).
pub fn begin(kernel: &str, unit: &str) {
    hprintln!("footprint {} unit {}", kernel, unit);
}

/// Prints one measured figure.
pub fn report(kernel: &str, figure: &str, value: usize) {
    hprintln!("footprint {} {} {}", kernel, figure, value);
}

/// Keeps `data` in the image (so the baseline build carries the same model and input bytes as the kernel
/// build, and the size difference is code and the kernel's own constants only).
pub fn keep<T: ?Sized>(data: &T) {
    core::hint::black_box(data as *const T);
}

/// Marks the start of one measured unit of work. Its address is where the instruction counter starts.
#[no_mangle]
#[inline(never)]
pub extern "C" fn fp_start() {
    compiler_fence(Ordering::SeqCst);
    cortex_m::asm::nop();
}

/// Marks the end of one measured unit of work (a different body from [`fp_start`], so the linker cannot
/// fold the two into one address).
#[no_mangle]
#[inline(never)]
pub extern "C" fn fp_end() {
    compiler_fence(Ordering::SeqCst);
    cortex_m::asm::nop();
    cortex_m::asm::nop();
}

/// [`fp_start`], for readability at the call site.
#[inline(always)]
pub fn start() {
    fp_start();
}

/// [`fp_end`].
#[inline(always)]
pub fn end() {
    fp_end();
}

/// The caller's stack pointer, read after its prologue: a direct MSP read may be scheduled before the
/// caller pushes its return address (shrink-wrapping), and painting up to it would overwrite that address.
#[inline(never)]
fn stack_pointer() -> usize {
    cortex_m::register::msp::read() as usize
}

/// Runs `f` and returns how many bytes of stack it used below this function's frame: the free RAM is
/// painted with a pattern first, and the deepest word that no longer holds it marks the peak.
#[inline(never)]
pub fn stack_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
    const PAINT: u32 = 0x5eed_f00d;
    extern "C" {
        // cortex-m-rt's link.x: the end of the statics, where the stack may grow down to.
        static _stack_end: u32;
    }
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let sp = stack_pointer();
    let mut p = bottom;
    while p < sp {
        // SAFETY: [_stack_end, sp) is RAM that nothing owns: no heap, the statics end at _stack_end, this
        // function's frame (where any spill of the loop goes) is at and above sp, and no interrupt is
        // enabled to push below sp meanwhile. p is 4-aligned (link.x asserts _stack_end is).
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    compiler_fence(Ordering::SeqCst);
    let r = f();
    compiler_fence(Ordering::SeqCst);
    let mut p = bottom;
    // SAFETY: aligned reads of the RAM painted above.
    while p < sp && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    (r, sp - p)
}

/// Ends the program successfully.
pub fn done() -> ! {
    exit(true)
}

/// Ends the program with a failure, naming what went wrong.
pub fn fail(what: &str) -> ! {
    hprintln!("footprint FAIL {}", what);
    exit(false)
}

fn exit(success: bool) -> ! {
    debug::exit(if success { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // The message is not formatted: that would pull core::fmt's panic machinery into every build.
    fail("panic")
}

#[cortex_m_rt::exception]
unsafe fn HardFault(_: &cortex_m_rt::ExceptionFrame) -> ! {
    fail("HardFault")
}

/// `data`, through an optimisation barrier: the compiler cannot see its contents (so it neither folds
/// a computation over generated statics nor drops them), and both builds keep the same bytes.
#[inline(always)]
pub fn keep_ref<T: ?Sized>(data: &'static T) -> &'static T {
    core::hint::black_box(data)
}
