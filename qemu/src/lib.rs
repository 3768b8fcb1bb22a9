//! The shared harness of fvae's Cortex-M test programs (`qemu/tests/<family>.rs`).
//!
//! Each test program is a `#![no_std] #![no_main]` firmware image run under `qemu-system-arm`. It records
//! checks in a [`Suite`], which prints one line per failure (and a line per measured error, so a passing run
//! still shows its margins) over semihosting, then [`Suite::finish`] prints `<suite>: N passed, M failed` and
//! ends QEMU with exit code 0 or 1, which `cargo test` reports. A panic (panic-semihosting, `exit`) or a
//! HardFault (handler below) also ends the run with a failure, so nothing hangs CI; the runner's
//! `timeout` catches the rest.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use fvae_qemu::{check, entry, Suite};
//!
//! #[entry]
//! fn main() -> ! {
//!     let mut s = Suite::new("example");
//!     check!(s, 1 + 1 == 2);
//!     s.close_l2("a vector", &[1.0, 2.0], &[1.0, 2.0], 1e-6);
//!     s.finish()
//! }
//! ```
#![no_std]

use core::fmt;

pub use cortex_m_rt::entry;
#[doc(hidden)]
pub use cortex_m_semihosting as __semihosting;

/// `cortex_m_semihosting::hprintln!`, after [`stack::guard`]: the stack grows down into the statics
/// with no fault on these cores, and the first static it overwrites is semihosting's own stdout
/// handle, after which every print is refused and the program spins in its retry loop forever.
#[macro_export]
macro_rules! hprintln {
    ($($arg:tt)*) => {{
        $crate::stack::guard();
        $crate::__semihosting::hprintln!($($arg)*)
    }};
}
// A panic prints its message over semihosting and exits QEMU with a failure.
use panic_semihosting as _;

/// The target triple the test programs were built for.
pub const TARGET: &str = env!("FVAE_QEMU_TARGET");

/// Includes the fixture module generated from `qemu/fixtures/<family>.list` by `build.rs` (statics named
/// as in the list, plus `NAME_SHAPE` constants for arrays). Use it in item position, e.g. in a module:
/// `mod fx { fvae_qemu::fixtures!("gmm"); }`.
#[macro_export]
macro_rules! fixtures {
    ($family:literal) => {
        include!(concat!(env!("OUT_DIR"), "/fixtures/", $family, ".rs"));
    };
}

/// Records a check in a [`Suite`]: `check!(suite, condition)` or `check!(suite, condition, "format", args..)`.
/// Evaluates to the condition, so a program can skip what depends on a failed step.
#[macro_export]
macro_rules! check {
    ($suite:expr, $cond:expr $(,)?) => {
        $suite.check($cond, format_args!("{}", stringify!($cond)), file!(), line!())
    };
    ($suite:expr, $cond:expr, $($arg:tt)+) => {
        $suite.check($cond, format_args!($($arg)+), file!(), line!())
    };
}

/// xorshift32: reproducible pseudo-random inputs for the test programs, without a dependency.
pub struct Rng(pub u32);

impl Rng {
    /// The next 32 random bits.
    pub fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// Uniform-ish in [-scale, scale) (24 random bits).
    pub fn f(&mut self, scale: f32) -> f32 {
        ((self.next() >> 8) as f32 / (1u32 << 23) as f32 - 1.0) * scale
    }

    /// Uniform in [0, 1) (24 random bits).
    pub fn uniform(&mut self) -> f32 {
        (self.next() >> 8) as f32 / (1u32 << 24) as f32
    }

    /// Approximately standard normal: Irwin-Hall, the sum of 12 uniforms minus 6 (no libm needed).
    pub fn normal(&mut self) -> f32 {
        (0..12).map(|_| self.uniform()).sum::<f32>() - 6.0
    }
}

/// Pass and fail counts of one test program.
pub struct Suite {
    name: &'static str,
    passed: u32,
    failed: u32,
}

impl Suite {
    /// Starts a suite and prints which core and target it runs on.
    pub fn new(name: &'static str) -> Suite {
        stack::paint();
        hprintln!("{}: running on {} ({})", name, core_name(), TARGET);
        Suite { name, passed: 0, failed: 0 }
    }

    /// Records one check; a failure prints `FAIL <suite> <file>:<line>: <what>`. Returns `ok`.
    /// (The [`check!`] macro fills in the text and the location.)
    pub fn check(&mut self, ok: bool, what: fmt::Arguments<'_>, file: &str, line: u32) -> bool {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            hprintln!("FAIL {} {}:{}: {}", self.name, file, line, what);
        }
        ok
    }

    /// A step that must succeed: returns its value, or records a failed check (printing the error) and
    /// returns `None`. A success is not counted, so steps in a loop do not swamp the pass count.
    pub fn ok<T, E: fmt::Debug>(&mut self, what: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.failed += 1;
                hprintln!("FAIL {} {}: {:?}", self.name, what, e);
                None
            }
        }
    }

    /// Checks `got` against a float64 reference by relative L2 error, `||got - want|| / ||want||`
    /// (the absolute norm when `want` is zero), at most `tol`; prints the measured error either way.
    pub fn close_l2(&mut self, what: &str, got: &[f32], want: &[f64], tol: f64) -> bool {
        let mut e = Errors::new();
        e.add(got, want);
        self.check_l2(what, &e, tol)
    }

    /// Checks every element: `|got - want| / max(1, |want|) <= tol` (absolute near zero, relative
    /// elsewhere); prints the largest such error either way.
    pub fn close_each(&mut self, what: &str, got: &[f32], want: &[f64], tol: f64) -> bool {
        let mut e = Errors::new();
        e.add(got, want);
        self.check_each(what, &e, tol)
    }

    /// [`close_l2`](Self::close_l2) over errors gathered piece by piece (rows that never all fit in RAM).
    pub fn check_l2(&mut self, what: &str, errors: &Errors, tol: f64) -> bool {
        self.report(what, "relative L2", errors.rel_l2(), tol, errors)
    }

    /// [`close_each`](Self::close_each) over errors gathered piece by piece.
    pub fn check_each(&mut self, what: &str, errors: &Errors, tol: f64) -> bool {
        self.report(what, "max |err|/max(1,|v|)", errors.max_scaled(), tol, errors)
    }

    fn report(&mut self, what: &str, metric: &str, err: f64, tol: f64, errors: &Errors) -> bool {
        // `err <= tol` is false for NaN, as it should be.
        let ok = err <= tol && errors.mismatch.is_none() && errors.count > 0;
        let tag = if ok { "ok  " } else { "FAIL" };
        match errors.mismatch {
            Some((got, want)) => {
                hprintln!("{} {} {}: length {} where the reference has {}", tag, self.name, what, got, want)
            }
            None => hprintln!(
                "{} {} {} ({} values): {} {} (tolerance {})",
                tag,
                self.name,
                what,
                errors.count,
                metric,
                Sci(err),
                Sci(tol)
            ),
        }
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        ok
    }

    /// Prints `<suite>: N passed, M failed` and ends the program: exit code 0 if nothing failed (and at least
    /// one check ran), 1 otherwise.
    pub fn finish(self) -> ! {
        let ram = stack::ram();
        hprintln!(
            "{}: RAM {} bytes: statics {}, stack peak {} (painted), never touched {}",
            self.name,
            ram.total,
            ram.statics,
            ram.stack_peak,
            ram.total - ram.statics - ram.stack_peak
        );
        hprintln!("{}: {} passed, {} failed", self.name, self.passed, self.failed);
        exit(self.failed == 0 && self.passed > 0)
    }
}

/// A number in scientific notation with three significant digits (`1.82e-5`), printed with integer
/// arithmetic: core's `{:.2e}` for floats formats through a 1 KiB stack buffer, a quarter of what a
/// micro:bit test program has left.
pub struct Sci(pub f64);

impl fmt::Display for Sci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.is_nan() || x.is_infinite() || x == 0.0 {
            return write!(
                f,
                "{}",
                if x.is_nan() {
                    "NaN"
                } else if x == 0.0 {
                    "0"
                } else if x > 0.0 {
                    "inf"
                } else {
                    "-inf"
                }
            );
        }
        let sign = if x < 0.0 { "-" } else { "" };
        let (mut m, mut e) = (x.abs(), 0i32);
        while m >= 10.0 {
            m /= 10.0;
            e += 1;
        }
        while m < 1.0 {
            m *= 10.0;
            e -= 1;
        }
        let mut hundredths = (m * 100.0 + 0.5) as u32;
        if hundredths >= 1000 {
            hundredths /= 10;
            e += 1;
        }
        let tail = hundredths % 100;
        if tail == 0 {
            write!(f, "{}{}e{}", sign, hundredths / 100, e)
        } else if tail.is_multiple_of(10) {
            write!(f, "{}{}.{}e{}", sign, hundredths / 100, tail / 10, e)
        } else {
            write!(f, "{}{}.{:02}e{}", sign, hundredths / 100, tail, e)
        }
    }
}

/// Errors of f32 results against a float64 reference, gathered over any number of pieces.
#[derive(Debug, Clone, Copy, Default)]
pub struct Errors {
    diff2: f64,
    norm2: f64,
    max_scaled: f64,
    count: usize,
    /// The first pair of lengths that did not match.
    mismatch: Option<(usize, usize)>,
}

impl Errors {
    /// No values yet.
    pub const fn new() -> Errors {
        Errors { diff2: 0.0, norm2: 0.0, max_scaled: 0.0, count: 0, mismatch: None }
    }

    /// Adds a piece: `got[i]` against `want[i]` (lengths must match, or the check fails).
    pub fn add(&mut self, got: &[f32], want: &[f64]) {
        if got.len() != want.len() {
            self.mismatch.get_or_insert((got.len(), want.len()));
        }
        for (&g, &w) in got.iter().zip(want) {
            self.add_one(g as f64, w);
        }
    }

    /// Adds one value (for results a test derives in f64, e.g. scaled statistics).
    pub fn add_one(&mut self, got: f64, want: f64) {
        let e = got - want;
        self.diff2 += e * e;
        self.norm2 += want * want;
        let scaled = e.abs() / want.abs().max(1.0);
        // NaN sticks: `max` would drop it.
        if scaled.is_nan() || self.max_scaled.is_nan() {
            self.max_scaled = f64::NAN;
        } else if scaled > self.max_scaled {
            self.max_scaled = scaled;
        }
        self.count += 1;
    }

    /// `||got - want||_2 / ||want||_2`, or the absolute norm of the difference if `want` is zero.
    pub fn rel_l2(&self) -> f64 {
        if self.norm2 > 0.0 {
            sqrt(self.diff2 / self.norm2)
        } else {
            sqrt(self.diff2)
        }
    }

    /// `max_i |got_i - want_i| / max(1, |want_i|)`.
    pub fn max_scaled(&self) -> f64 {
        self.max_scaled
    }
}

/// Square root by Newton's iteration, for error reports and f64 references (no libm needed).
pub fn sqrt(x: f64) -> f64 {
    if x == 0.0 || x == f64::INFINITY || x.is_nan() {
        return x;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    // Halving the exponent gives a start within a factor of 2; Newton doubles the digits each step.
    let mut r = f64::from_bits((x.to_bits() + (1023u64 << 52)) >> 1);
    for _ in 0..8 {
        r = 0.5 * (r + x / r);
    }
    r
}

/// RAM use measured by painting: the stack is filled with a pattern when a [`Suite`] starts, and the
/// deepest word no longer holding it marks the peak.
pub mod stack {
    use core::sync::atomic::{AtomicBool, Ordering};

    const PAINT: u32 = 0x5eed_f00d;
    static PAINTED: AtomicBool = AtomicBool::new(false);

    extern "C" {
        // Symbols of cortex-m-rt's link.x: the start of .data (the first RAM section), the end of the
        // statics (where the stack may grow down to) and the initial stack pointer (the top of RAM).
        static __sdata: u32;
        static _stack_end: u32;
        static _stack_start: u32;
    }

    fn bounds() -> (usize, usize, usize) {
        // Only the symbols' addresses are taken, never their contents.
        (
            core::ptr::addr_of!(__sdata) as usize,
            core::ptr::addr_of!(_stack_end) as usize,
            core::ptr::addr_of!(_stack_start) as usize,
        )
    }

    /// The stack pointer of the caller, read after the caller's prologue. Reading MSP directly in
    /// [`paint`] is not enough: in release builds LLVM shrink-wraps `paint`, reading MSP *before* it
    /// pushes `lr`, and the loop then painted over its own return address (a HardFault at 0x5eedf00c).
    /// A call cannot come before the caller saves `lr`, so the value read here is below every slot
    /// the caller has stored.
    #[inline(never)]
    fn stack_pointer() -> usize {
        cortex_m::register::msp::read() as usize
    }

    /// Fills the free RAM between the statics and the live stack with the pattern.
    #[inline(never)]
    pub fn paint() {
        let (_, end, _) = bounds();
        let sp = stack_pointer();
        let mut p = end;
        while p < sp {
            // SAFETY: [_stack_end, sp) is RAM that nothing owns: no heap exists, the statics end at
            // _stack_end, the live stack (this function's frame, where any spill goes, included) is at
            // and above sp, and no interrupt is enabled to push below sp meanwhile. The address is
            // 4-aligned (link.x asserts it).
            unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
            p += 4;
        }
        PAINTED.store(true, Ordering::Relaxed);
    }

    /// Ends the program with a failure if the stack has reached the statics since [`paint`]: the
    /// lowest stack word no longer holds the pattern. The message goes through a newly opened
    /// stdout handle, since the cached one is the static the overflow reaches first.
    pub fn guard() {
        let (_, end, _) = bounds();
        // SAFETY: _stack_end is an aligned, mapped RAM word (the lowest word of the stack space).
        if PAINTED.load(Ordering::Relaxed) && unsafe { core::ptr::read_volatile(end as *const u32) } != PAINT {
            if let Ok(mut out) = cortex_m_semihosting::hio::hstdout() {
                let _ = out.write_all(b"FAIL stack overflow: the stack grew into the statics\n");
            }
            super::exit(false);
        }
    }

    /// What a program used.
    #[derive(Debug, Clone, Copy)]
    pub struct Ram {
        /// All RAM, statics plus stack space (memory.x).
        pub total: usize,
        /// `.data`, `.bss` and `.uninit`.
        pub statics: usize,
        /// The deepest the stack went since [`paint`] (bytes from the top of RAM).
        pub stack_peak: usize,
    }

    /// Measures RAM use now (the stack since the last [`paint`]).
    pub fn ram() -> Ram {
        let (data, end, top) = bounds();
        let mut p = end;
        // SAFETY: reads aligned words of RAM between the statics and the top of the stack, all mapped.
        while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
            p += 4;
        }
        Ram { total: top - data, statics: end - data, stack_peak: top - p }
    }
}

/// Ends QEMU through semihosting with success or failure.
pub fn exit(success: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if success { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    // Only reached without a debugger/semihosting host: stop here.
    loop {
        cortex_m::asm::bkpt();
    }
}

/// The core's name from the CPUID register (`Cortex-M4`, `Cortex-M7`, `Cortex-M0`, ...).
pub fn core_name() -> &'static str {
    // SAFETY: CPUID is a read-only, always-present System Control Block register on every
    // Cortex-M; reading it has no side effect and races with nothing.
    let cpuid = unsafe { (*cortex_m::peripheral::CPUID::PTR).base.read() };
    match (cpuid >> 4) & 0xfff {
        0xc20 => "Cortex-M0",
        0xc60 => "Cortex-M0+",
        0xc21 => "Cortex-M1",
        0xc23 => "Cortex-M3",
        0xc24 => "Cortex-M4",
        0xc27 => "Cortex-M7",
        0xd20 => "Cortex-M23",
        0xd21 => "Cortex-M33",
        _ => "an unknown Cortex-M core",
    }
}

/// A HardFault (bad address, undefined instruction, an FPU instruction on a core without one) prints
/// where it happened and fails the run: cortex-m-rt's default handler would spin until the timeout.
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    hprintln!("FAIL HardFault at pc {:#010x}, lr {:#010x}", frame.pc(), frame.lr());
    exit(false)
}

/// Runs the int8 network `model` on the `rows` rows of `input` (row-major, one input) and checks
/// that its first output equals `expected` row for row (TFLite Micro's outputs), in `arena`; prints
/// the operator count and the arena the model needs. The network programs (`nn`, `conv`) share it.
pub fn run_network(
    s: &mut Suite,
    name: &str,
    model: &[u8],
    input: &[i8],
    expected: &[i8],
    rows: usize,
    arena: &mut [u8],
) {
    let Some(net) = s.ok(name, fvae::nn::Network::new(model)) else { return };
    let need = net.required_arena();
    if !check!(s, need <= arena.len(), "{}: arena needs {} bytes, have {}", name, need, arena.len()) {
        return;
    }
    hprintln!("{}: {} operators, arena {} bytes (activations {})", name, net.operators(), need, net.activation_bytes());
    let Some(mut it) = s.ok(name, net.interpreter(arena)) else { return };
    // The fixtures are 4-byte aligned, so a fused fully-connected layer reads them with `ldm`.
    for layer in it.layer_paths() {
        let Some(l) = s.ok("layer_paths", layer) else { return };
        if l.kernel.is_some() {
            hprintln!("{}: operator {} {}: {}", name, l.index, l.operator, l.path.name());
        }
        let unaligned = l.path == fvae::kernels::int8::Path::ArmDspFused;
        check!(s, !unaligned, "{}: operator {} reads aligned weights unaligned", name, l.index);
    }
    let (din, dout) = (input.len() / rows.max(1), expected.len() / rows.max(1));
    let mut wrong = 0;
    for r in 0..rows {
        let Some(x) = s.ok("input", it.input_i8_mut(0)) else { return };
        x.copy_from_slice(&input[r * din..(r + 1) * din]);
        if s.ok("invoke", it.invoke()).is_none() {
            return;
        }
        let Some(y) = s.ok("output", it.output_i8(0)) else { return };
        wrong += (y != &expected[r * dout..(r + 1) * dout]) as u32;
    }
    check!(s, wrong == 0, "{}: {} of {} rows differ from TFLite Micro", name, wrong, rows);
}
