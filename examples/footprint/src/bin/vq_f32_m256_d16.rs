//! `vq_f32_m256_d16`: the nearest of M=256 f32 codewords in D=16 (`fvae::vq::Codebook::nearest`, read in
//! place from flash), per query. Data: `src/common/vq.rs`. Checked against a plain scan (same index, or a
//! distance within 1e-5 relative: a near-tie that f32 rounding may order either way).
#![no_std]
#![no_main]

use fvae::vq::Codebook;

#[path = "../common/vq.rs"]
mod vq;
use vq::{D, M, N};

static CODEBOOK: [f32; M * D] = vq::uniform_f32(0x1234_5678);
static QUERIES: [f32; N * D] = vq::uniform_f32(0x9abc_def0);

#[fp::entry]
fn main() -> ! {
    const NAME: &str = "vq_f32_m256_d16";
    fp::begin(NAME, "query");
    let (codebook, queries) = (fp::keep_ref(&CODEBOOK[..]), fp::keep_ref(&QUERIES[..]));
    let mut expected = [(0u32, 0.0f32); N];
    for (e, x) in expected.iter_mut().zip(queries.chunks_exact(D)) {
        *e = vq::brute_f32(codebook, x);
    }
    if fp::BASELINE {
        fp::keep(&expected);
        let ((), stack) = fp::stack_of(|| {
            fp::start();
            fp::end();
        });
        fp::report(NAME, "stack_bytes", stack);
        fp::done();
    }
    let (wrong, stack) = fp::stack_of(|| {
        let Ok(cb) = Codebook::new(codebook, D) else { return usize::MAX };
        let mut wrong = 0;
        for (x, &(want, want_dist)) in queries.chunks_exact(D).zip(expected.iter()) {
            fp::start();
            let r = cb.nearest(x);
            fp::end();
            match r {
                Ok(n) if n.index == want || (n.distance - want_dist).abs() <= 1e-5 * want_dist => {}
                _ => wrong += 1,
            }
        }
        wrong
    });
    if wrong != 0 {
        fp::fail("Codebook::nearest disagrees with a plain scan");
    }
    fp::report(NAME, "stack_bytes", stack);
    fp::done()
}
