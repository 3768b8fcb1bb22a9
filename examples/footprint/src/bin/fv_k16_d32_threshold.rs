//! `fv_k16_d32_threshold`: the same encoder with VLFeat's posterior threshold (posteriors below 1e-6 are not
//! accumulated), which skips most components of well-separated data. See `src/common/fv.rs`.
#![no_std]
#![no_main]

use fvae::fisher::FisherOptions;
use fvae::gmm::Assignment;

#[path = "../common/fv.rs"]
mod fv;

#[fp::entry]
fn main() -> ! {
    static mut CONSTANTS: [f32; fv::CONSTANTS] = [0.0; fv::CONSTANTS];
    static mut STORAGE: [f32; fv::STORAGE] = [0.0; fv::STORAGE];
    static mut FV: [f32; fv::FV] = [0.0; fv::FV];
    let options = FisherOptions { assignment: Assignment::Soft { threshold: 1e-6 } };
    fv::run("fv_k16_d32_threshold", options, CONSTANTS, STORAGE, FV)
}
