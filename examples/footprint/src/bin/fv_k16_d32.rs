//! `fv_k16_d32`: the Fisher-vector encoder, K=16, D=32, exact soft assignments (no posterior threshold), as
//! DESIGN.md defines the vector. See `src/common/fv.rs`.
#![no_std]
#![no_main]

#[path = "../common/fv.rs"]
mod fv;

#[fp::entry]
fn main() -> ! {
    static mut CONSTANTS: [f32; fv::CONSTANTS] = [0.0; fv::CONSTANTS];
    static mut STORAGE: [f32; fv::STORAGE] = [0.0; fv::STORAGE];
    static mut FV: [f32; fv::FV] = [0.0; fv::FV];
    fv::run("fv_k16_d32", fvae::fisher::FisherOptions::default(), CONSTANTS, STORAGE, FV)
}
