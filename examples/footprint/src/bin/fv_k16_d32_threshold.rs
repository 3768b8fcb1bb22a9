//! `fv_k16_d32_threshold`: the same encoder with VLFeat's posterior threshold (posteriors below 1e-6 are not
//! accumulated), which skips most components of well-separated data. See `src/common/fv.rs`.
#![no_std]
#![no_main]

use fvae::fisher::FisherOptions;
use fvae::gmm::Assignment;

#[path = "../common/fv.rs"]
mod fv;

/// VLFeat's threshold, compensated sums.
const OPTIONS: FisherOptions = FisherOptions::DEFAULT.with_assignment(Assignment::Soft { threshold: 1e-6 });

#[fp::entry]
fn main() -> ! {
    static mut CONSTANTS: [f32; fv::CONSTANTS] = [0.0; fv::CONSTANTS];
    static mut STORAGE: [f32; fv::storage(OPTIONS)] = [0.0; fv::storage(OPTIONS)];
    static mut FV: [f32; fv::FV] = [0.0; fv::FV];
    fv::run("fv_k16_d32_threshold", OPTIONS, CONSTANTS, STORAGE, FV)
}
