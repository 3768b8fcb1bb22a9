//! What every firmware program of this example shares: the exit through semihosting and the panic and
//! fault handlers, which log with defmt and exit with failure.

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::debug;

/// Ends QEMU with the program's verdict.
pub fn exit(success: bool) -> ! {
    debug::exit(if success { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    exit(false)
}

#[defmt::panic_handler]
fn defmt_panic() -> ! {
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!("HardFault at pc {=u32:#010x}", frame.pc());
    exit(false)
}
