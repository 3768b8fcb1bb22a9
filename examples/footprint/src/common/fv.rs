//! The Fisher-vector encoder with K=16 components in D=32 dimensions, as firmware uses it (included by
//! `src/bin/fv_k16_d32*.rs`, which choose the options): the
//! GMM read in place from a `.safetensors` image in flash, its constants and the accumulator in RAM sized
//! exactly, descriptors pushed one at a time, the improved Fisher vector finished at the end. Flash counts
//! `DiagGmm::new` (validation, constants), `FisherAccumulator` (push, finish with the improved
//! normalisation) and the libm/compiler-builtins code they pull in; not the in-place readers, which the
//! baseline runs too.
//!
//! Data: tests/data/embedded/digits_top32_k16 (512 descriptors; scripts/make_embedded_fixture.py).
//! Measured: instructions per descriptor (`FisherAccumulator::push`: the finiteness check, log-densities,
//! posteriors and statistics), averaged over descriptors 2..512; the stack peak of the whole use (set-up,
//! pushes, finish); flash by the script (this program minus its baseline build).
use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::formats::{npy::Npy, safetensors::SafeTensors, Aligned};
use fvae::gmm::DiagGmm;

pub const K: usize = 16;
pub const D: usize = 32;
/// Lengths of the program's statics: GMM constants, accumulator storage (by options), the vector.
pub const CONSTANTS: usize = DiagGmm::constants_len(K, D);
pub const fn storage(options: FisherOptions) -> usize {
    FisherAccumulator::storage_len_with(K, D, options)
}
pub const FV: usize = 2 * K * D;

static GMM: &Aligned<[u8]> =
    &Aligned(*include_bytes!("../../../../tests/data/embedded/digits_top32_k16/gmm.safetensors"));
static X: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/embedded/digits_top32_k16/x.npy"));

type Slices = (&'static [f32], &'static [f32], &'static [f32], &'static [f32]);

/// weights, means, covariances and descriptors, read in place from flash.
fn read() -> Result<Slices, fvae::Error> {
    let file = SafeTensors::parse(&GMM.0)?;
    let x = Npy::parse(&X.0)?;
    Ok((
        file.tensor("weights")?.as_f32("weights")?,
        file.tensor("means")?.as_f32("means")?,
        file.tensor("covariances")?.as_f32("covariances")?,
        x.as_f32("x")?,
    ))
}

/// Measures the encoder under `options` and reports as kernel `name`; never returns.
/// `constants`, `storage` and `fv` are the program's statics, sized by [`CONSTANTS`], [`storage`] and
/// [`FV`]. Besides the script's figures it reports `ram_bytes`: the model constants and accumulator storage
/// the encoder needs (the finished vector, 4 KiB, is the caller's output and not counted).
pub fn run(
    name: &str,
    options: FisherOptions,
    constants: &'static mut [f32],
    storage: &'static mut [f32],
    fv: &'static mut [f32],
) -> ! {
    fp::begin(name, "descriptor");
    // Reading the model and the input in place is the same in both builds (the readers are shared by
    // every model: their flash is not this kernel's).
    let Ok((weights, means, variances, x)) = read() else { fp::fail("reading the data") };
    if fp::BASELINE {
        // The same program without the kernel: the slices kept, markers and stack probe called empty.
        for s in [weights, means, variances, x] {
            fp::keep(s);
        }
        let ((), stack) = fp::stack_of(|| {
            fp::start();
            fp::end();
        });
        fp::report(name, "stack_bytes", stack);
        fp::done();
    }
    let (pushed, stack) = fp::stack_of(|| -> Result<u64, fvae::Error> {
        let gmm = DiagGmm::new(weights, means, variances, constants)?;
        let mut acc = FisherAccumulator::new(gmm, options, storage)?;
        let mut rows = x.chunks_exact(D);
        // The first push runs outside the markers, so every measured push is the same code path.
        acc.push(rows.next().unwrap_or(&[]))?;
        for row in rows {
            fp::start();
            let r = acc.push(row);
            fp::end();
            r?;
        }
        acc.finish(Layout::VlFeat, Normalization::IMPROVED, &mut *fv)?;
        Ok(acc.count())
    });
    match pushed {
        Ok(512) => {}
        _ => fp::fail("the encoder failed or counted the wrong number of descriptors"),
    }
    // A sanity check that the vector is real (its full check is examples/firmware and qemu/tests/gmm.rs).
    let norm: f32 = fv.iter().map(|v| v * v).sum();
    if (norm - 1.0).abs() > 1e-4 {
        fp::fail("the improved Fisher vector is not unit length");
    }
    fp::report(name, "stack_bytes", stack);
    fp::report(name, "ram_bytes", 4 * (CONSTANTS + self::storage(options)));
    fp::done()
}
