//! `fv_k16_d32`: the Fisher-vector encoder, K=16, D=32, with fvae's default options: exact soft assignments (no
//! posterior threshold) and compensated sums. See `src/common/fv.rs`.
#![no_std]
#![no_main]

use fvae::fisher::FisherOptions;

#[path = "../common/fv.rs"]
mod fv;

/// `FisherOptions::default()`, spelled out to size the storage at compile time.
const OPTIONS: FisherOptions = FisherOptions::DEFAULT;

#[fp::entry]
fn main() -> ! {
    static mut CONSTANTS: [f32; fv::CONSTANTS] = [0.0; fv::CONSTANTS];
    static mut STORAGE: [f32; fv::storage(OPTIONS)] = [0.0; fv::storage(OPTIONS)];
    static mut FV: [f32; fv::FV] = [0.0; fv::FV];
    fv::run("fv_k16_d32", OPTIONS, CONSTANTS, STORAGE, FV)
}
