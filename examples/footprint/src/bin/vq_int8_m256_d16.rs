//! `vq_int8_m256_d16`: the nearest of M=256 int8 codewords in D=16 (`fvae::vq::CodebookI8::nearest`, per
//! int8 query, already quantised), on a codebook packed once at start (`CodebookI8::pack`: each codeword's
//! norm next to a copy of its bytes, 5 140 bytes of RAM reported as `ram_bytes`; the codebook itself stays
//! in flash) so the DSP path ranks by `|c|^2 - 2 x.c` with `smlad`. Data: `src/common/vq.rs`. Checked
//! against a plain exact scan: same index and distance.
#![no_std]
#![no_main]

use fvae::vq::CodebookI8;

#[path = "../common/vq.rs"]
mod vq;
use vq::{D, M, N};

static CODEBOOK: [i8; M * D] = vq::uniform_i8(0x1234_5678);
static QUERIES: [i8; N * D] = vq::uniform_i8(0x9abc_def0);

#[fp::entry]
fn main() -> ! {
    static mut PACKED: [i32; CodebookI8::packed_len(M, D)] = [0; CodebookI8::packed_len(M, D)];
    const NAME: &str = "vq_int8_m256_d16";
    fp::begin(NAME, "query");
    let (codebook, queries) = (fp::keep_ref(&CODEBOOK[..]), fp::keep_ref(&QUERIES[..]));
    let mut expected = [(0u32, 0u32); N];
    for (e, x) in expected.iter_mut().zip(queries.chunks_exact(D)) {
        *e = vq::brute_i8(codebook, x);
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
        let Ok(cb) = CodebookI8::new(codebook, D, 1.0 / 64.0).and_then(|c| c.pack(PACKED)) else {
            return usize::MAX;
        };
        let mut wrong = 0;
        for (x, &(want, want_dist)) in queries.chunks_exact(D).zip(expected.iter()) {
            fp::start();
            let r = cb.nearest(x);
            fp::end();
            match r {
                Ok(n) if n.index == want && n.distance == want_dist => {}
                _ => wrong += 1,
            }
        }
        wrong
    });
    if wrong != 0 {
        fp::fail("CodebookI8::nearest disagrees with a plain scan");
    }
    fp::report(NAME, "stack_bytes", stack);
    fp::report(NAME, "ram_bytes", 4 * CodebookI8::packed_len(M, D));
    fp::done()
}
