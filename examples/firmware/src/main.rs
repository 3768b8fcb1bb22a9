//! An on-sensor Fisher-vector encoder for Cortex-M (M4F, M7, M0).
//!
//! The device holds a diagonal GMM (K=16, D=32) as a `.safetensors` image in flash and reads it in place; a
//! stream of 512 descriptors, also in flash, stands in for a sensor (the top halves of the scikit-learn 8x8
//! digits, tests/data/embedded/digits_top32_k16). Each descriptor is pushed into a streaming accumulator as
//! it "arrives"; every 128 the program logs its progress; at the end it finishes the improved Fisher vector
//! (1024 values, 4 KiB: what the device would send instead of 64 KiB of descriptors) and checks it against
//! the float64 reference computed on a host (scripts/make_embedded_fixture.py), within 1e-4 relative L2.
//! It also encodes the stream into VQ indices (int8 nearest of the quantised means, `CodebookI8`) and
//! checks every index against the host's. The exit code says whether the checks passed. Logging is defmt
//! over semihosting (decoded by defmt-print).
//!
//! RAM: GMM constants (K D + 3 K floats), accumulator (4 K D + 3 K, compensated sums) and the vector
//! (2 K D), all statics: 14.4 KiB, within the micro:bit's 16 KiB.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use defmt_semihosting as _;
use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::{npy::Npy, safetensors::SafeTensors, Aligned, DType};
use fvae::gmm::DiagGmm;
use fvae::vq::CodebookI8;
use rt::exit;

mod rt;

const K: usize = 16;
const D: usize = 32;
/// Descriptors between two progress lines.
const WINDOW: usize = 128;
/// Relative L2 error allowed against the float64 reference (docs/design.md).
const TOLERANCE: f64 = 1e-4;

static GMM: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../tests/data/embedded/digits_top32_k16/gmm.safetensors"));
static STREAM: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../tests/data/embedded/digits_top32_k16/x.npy"));
static REFERENCE: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../../tests/data/embedded/digits_top32_k16/fv_improved.npy"));
/// The VQ codebook: the 16 means quantised to int8 at [`VQ_SCALE`] on a host (read in place: no RAM).
static VQ_CODEBOOK: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../../tests/data/embedded/digits_top32_k16/vq_means_i8.npy"));
/// The host's VQ index of every descriptor (exact integer scan of the same int8 data).
static VQ_REFERENCE: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../../tests/data/embedded/digits_top32_k16/vq_idx_i8.npy"));
/// int8 step of the VQ codebook and queries: the pixels' full range, 0..16, over 127 levels.
const VQ_SCALE: f32 = 16.0 / 127.0;

#[entry]
fn main() -> ! {
    static mut CONSTANTS: [f32; DiagGmm::constants_len(K, D)] = [0.0; DiagGmm::constants_len(K, D)];
    static mut STORAGE: [f32; FisherAccumulator::storage_len(K, D)] = [0.0; FisherAccumulator::storage_len(K, D)];
    static mut FV: [f32; 2 * K * D] = [0.0; 2 * K * D];

    match load_gmm(CONSTANTS).and_then(|gmm| encode(gmm, STORAGE, FV)) {
        Ok(err) if err <= TOLERANCE => {
            defmt::info!("PASS: relative L2 error {=f64} <= {=f64}", err, TOLERANCE);
            exit(true)
        }
        Ok(err) => {
            defmt::error!("FAIL: relative L2 error {=f64} > {=f64}", err, TOLERANCE);
            exit(false)
        }
        Err(e) => {
            defmt::error!("FAIL: {}", e);
            exit(false)
        }
    }
}

/// Reads the GMM in place from flash. Apart from `encode` (neither is inlined) so that the header
/// parser's stack and the encoding loop's are never live at once: the 16 KiB of RAM leave the stack
/// 1.6 KiB beside the statics.
#[inline(never)]
fn load_gmm(constants: &'static mut [f32]) -> fvae::Result<DiagGmm<'static>> {
    let model = SafeTensors::parse(&GMM.0)?;
    DiagGmm::from_safetensors(&model, constants)
}

/// Encodes the stream, returns the relative L2 error of the improved Fisher vector against the reference.
#[inline(never)]
fn encode(gmm: DiagGmm<'static>, storage: &'static mut [f32], fv: &'static mut [f32]) -> fvae::Result<f64> {
    let stream = Npy::parse(&STREAM.0)?;
    let (n, d) = stream.rows_cols();
    defmt::info!(
        "fvae firmware: GMM K={=usize} D={=usize} read in place; {=usize} descriptors of {=usize}",
        gmm.k(),
        gmm.d(),
        n,
        d
    );

    // The same stream as VQ indices, one byte per descriptor instead of 128: the nearest of the 16 means
    // quantised to int8 (CodebookI8, the DSP path on the M4F and M7), each descriptor quantised at the same
    // scale as it arrives, checked against the host's indices.
    let codebook = CodebookI8::new(Npy::parse(&VQ_CODEBOOK.0)?.as_i8("VQ codebook")?, D, VQ_SCALE)?;
    let vq_reference = Npy::parse(&VQ_REFERENCE.0)?;
    if vq_reference.dtype() != DType::I32 || vq_reference.bytes().len() != n * 4 {
        let found = vq_reference.bytes().len();
        return Err(fvae::Error::Shape { what: "VQ reference (i32)", expected: n * 4, found });
    }
    let (mut histogram, mut vq_wrong, mut first) = ([0u32; K], 0usize, [0u8; 16]);

    let mut acc = FisherAccumulator::new(gmm, FisherOptions::default(), storage)?;
    let mut log_likelihood = 0.0f32;
    for (i, x) in stream.as_f32("descriptor stream")?.chunks_exact(D).enumerate() {
        log_likelihood += acc.push(x)?;
        let mut query = [0i8; D];
        codebook.quantize(x, &mut query)?;
        let index = codebook.nearest(&query)?.index as usize;
        let want = vq_reference.bytes().chunks_exact(4).nth(i).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        vq_wrong += (want != Some(index as i32)) as usize;
        histogram[index % K] += 1;
        if let Some(f) = first.get_mut(i) {
            *f = index as u8;
        }
        if (i + 1) % WINDOW == 0 {
            defmt::info!(
                "{=usize} descriptors encoded, mean log-likelihood {=f32}",
                i + 1,
                log_likelihood / (i + 1) as f32
            );
        }
    }
    defmt::info!(
        "VQ indices (int8, nearest of {=usize} means): first {=[u8]}, histogram {=[?]}",
        K,
        first,
        histogram[..]
    );
    if vq_wrong != 0 {
        defmt::error!("FAIL: {=usize} of {=usize} VQ indices differ from the host's", vq_wrong, n);
        return Ok(f64::INFINITY);
    }
    defmt::info!("PASS: all {=usize} VQ indices equal the host's", n);
    acc.finish(Layout::VlFeat, Normalization::IMPROVED, fv)?;
    defmt::info!("Fisher vector ({=usize} values, improved): {=[?]}...", fv.len(), fv[..6]);

    // The reference: float64 values, read from the .npy bytes in place.
    let reference = Npy::parse(&REFERENCE.0)?;
    if reference.dtype() != DType::F64 || reference.bytes().len() != fv.len() * 8 {
        return Err(fvae::Error::Shape {
            what: "reference vector (f64)",
            expected: fv.len() * 8,
            found: reference.bytes().len(),
        });
    }
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&got, want) in fv.iter().zip(reference.bytes().chunks_exact(8)) {
        let want = f64::from_le_bytes([want[0], want[1], want[2], want[3], want[4], want[5], want[6], want[7]]);
        diff += (got as f64 - want) * (got as f64 - want);
        norm += want * want;
    }
    Ok(libm::sqrt(diff / norm))
}
