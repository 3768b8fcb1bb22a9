//! `mlp_decoder`: the fixture int8 VAE decoder (tests/data/tflite/mlp_decoder.tflite: latent 8 -> 64 ->
//! 128 -> 64, FULLY_CONNECTED and LOGISTIC), read in place from flash by `fvae::nn::Network`, one
//! `Interpreter::invoke` per latent vector. `arena_bytes` is `Network::required_arena()` (the RAM the
//! interpreter needs: activations and precomputed constants). The first 32 fixture latents are run and
//! their outputs checked bit for bit against TFLite's (`mlp_decoder_expected.npy`).
#![no_std]
#![no_main]

use fvae::formats::{npy::Npy, Aligned};
use fvae::nn::Network;

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_decoder.tflite"));
static INPUT: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_decoder_input.npy"));
static EXPECTED: &Aligned<[u8]> = &Aligned(*include_bytes!("../../../../tests/data/tflite/mlp_decoder_expected.npy"));

/// Latent vectors run (of the fixture's 128).
const CASES: usize = 32;
const LATENT: usize = 8;
const OUT: usize = 64;

#[fp::entry]
fn main() -> ! {
    static mut ARENA: [u8; 8192] = [0; 8192];
    const NAME: &str = "mlp_decoder";
    fp::begin(NAME, "inference");
    let (Ok(input), Ok(expected)) = (Npy::parse(&INPUT.0), Npy::parse(&EXPECTED.0)) else { fp::fail("npy") };
    let (Ok(input), Ok(expected)) = (input.as_i8("input"), expected.as_i8("expected")) else { fp::fail("npy i8") };
    if fp::BASELINE {
        fp::keep(&MODEL.0);
        fp::keep(input);
        fp::keep(expected);
        let ((), stack) = fp::stack_of(|| {
            fp::start();
            fp::end();
        });
        fp::report(NAME, "stack_bytes", stack);
        fp::done();
    }
    let arena: &'static mut [u8] = ARENA;
    let (result, stack) = fp::stack_of(|| -> Result<(usize, usize), fvae::Error> {
        let net = Network::new(&MODEL.0)?;
        let need = net.required_arena();
        let mut it = net.interpreter(arena)?;
        let mut wrong = 0;
        for (x, want) in input.chunks_exact(LATENT).zip(expected.chunks_exact(OUT)).take(CASES) {
            it.input_i8_mut(0)?.copy_from_slice(x);
            fp::start();
            let r = it.invoke();
            fp::end();
            r?;
            wrong += (it.output_i8(0)? != want) as usize;
        }
        Ok((need, wrong))
    });
    let arena_bytes = match result {
        Ok((need, 0)) => need,
        Ok(_) => fp::fail("an output differs from TFLite's"),
        Err(_) => fp::fail("the network failed"),
    };
    fp::report(NAME, "stack_bytes", stack);
    fp::report(NAME, "arena_bytes", arena_bytes);
    fp::done()
}
