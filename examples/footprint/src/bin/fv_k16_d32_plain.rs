//! `fv_k16_d32_plain`: the same encoder with plain (uncompensated) f32 sums: half the accumulator RAM, for
//! the smallest parts. See `src/common/fv.rs`.
#![no_std]
#![no_main]

use fvae::fisher::FisherOptions;

#[path = "../common/fv.rs"]
mod fv;

/// No threshold, plain sums.
const OPTIONS: FisherOptions = FisherOptions::DEFAULT.with_compensated(false);

#[fp::entry]
fn main() -> ! {
    static mut CONSTANTS: [f32; fv::CONSTANTS] = [0.0; fv::CONSTANTS];
    static mut STORAGE: [f32; fv::storage(OPTIONS)] = [0.0; fv::storage(OPTIONS)];
    static mut FV: [f32; fv::FV] = [0.0; fv::FV];
    fv::run("fv_k16_d32_plain", OPTIONS, CONSTANTS, STORAGE, FV)
}
