//! The int8 network programs (`src/bin/{mlp_decoder,conv_decoder,mlp_encoder}.rs`): a fixture model of
//! tests/data/tflite read in place from flash by `fvae::nn::Network`, one `Interpreter::invoke` per input
//! row, the first `CASES` rows checked bit for bit against TFLite's outputs (`<model>_expected.npy`).
//! Figures: `arena_bytes` (`Network::required_arena()`: the RAM the interpreter needs) and `model_bytes`
//! (the `.tflite` itself, in flash in both builds and so not in `flash_bytes`).
#![allow(dead_code)]

use fvae::formats::npy::Npy;
use fvae::nn::Network;

/// Input rows run (of the fixture's 128).
pub const CASES: usize = 32;

/// Runs `model` on the first [`CASES`] rows of `input`, each between the instruction markers, checks
/// every output against `expected` and reports the figures; never returns.
pub fn run(
    name: &str,
    model: &'static [u8],
    input: &'static [u8],
    expected: &'static [u8],
    arena: &'static mut [u8],
) -> ! {
    fp::begin(name, "inference");
    let (Ok(input), Ok(expected)) = (Npy::parse(input), Npy::parse(expected)) else { fp::fail("npy") };
    let (Ok(input), Ok(expected)) = (input.as_i8("input"), expected.as_i8("expected")) else { fp::fail("npy i8") };
    let (din, dout) = (input.len() / 128, expected.len() / 128);
    if fp::BASELINE {
        fp::keep(model);
        fp::keep(input);
        fp::keep(expected);
        let ((), stack) = fp::stack_of(|| {
            fp::start();
            fp::end();
        });
        fp::report(name, "stack_bytes", stack);
        fp::done();
    }
    let (result, stack) = fp::stack_of(|| -> Result<(usize, usize), fvae::Error> {
        let net = Network::new(model)?;
        let need = net.required_arena();
        let mut it = net.interpreter(arena)?;
        let mut wrong = 0;
        for (x, want) in input.chunks_exact(din).zip(expected.chunks_exact(dout)).take(CASES) {
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
    fp::report(name, "stack_bytes", stack);
    fp::report(name, "arena_bytes", arena_bytes);
    fp::report(name, "model_bytes", model.len());
    fp::done()
}
