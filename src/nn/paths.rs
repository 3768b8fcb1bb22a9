//! Which kernel path each layer of a prepared network takes ([`Interpreter::layer_paths`]), so that
//! a slow layer can be told from a fast one without a profiler: for example weights left where
//! the Cortex-M fully-connected loop reads them with unaligned loads, or an x86 CPU capped to
//! SSE2 by `FVAE_X86_LEVEL`.

use super::desc::{at, HEAD_WORDS};
use super::fully_connected::{PACKED, PAIRS};
use super::interpreter::Interpreter;
use super::registry::Kind;
use super::run::{split, sub, Run};
use super::transpose_conv_f32;
use crate::formats::tflite::op;
use crate::kernels::int8::{fully_connected_path, kernel_path, Kernel, Path};
use crate::{Error, Result};

/// The kernel path one operator of a network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerPath {
    /// The operator's index in the model's subgraph.
    pub index: usize,
    /// Its builtin name, as the TFLite schema spells it (`FULLY_CONNECTED`).
    pub operator: &'static str,
    /// The int8 multiply-accumulate kernel it runs, or `None` for an operator without one
    /// (elementwise, pooling, reshaping, float operators: their own portable code).
    pub kernel: Option<Kernel>,
    /// The instructions that kernel runs here ([`Path::Scalar`] when `kernel` is `None`).
    pub path: Path,
}

impl<'a, 'm> Interpreter<'a, 'm> {
    /// The kernel path of every operator that runs, in order (operators folded at plan time run
    /// nothing and are not listed). The answer is the interpreter's: it depends on the CPU (on
    /// x86_64 at the level in force, after any `FVAE_X86_LEVEL` cap), on the build, and for a
    /// fully-connected layer on a Cortex-M with the DSP extension on its prepared constants and
    /// on where its weights are (4-byte aligned: [`Path::ArmDspFusedAligned`]).
    ///
    /// ```
    /// use fvae::nn::Network;
    /// use fvae::kernels::int8::Kernel;
    /// let model = include_bytes!("../../tests/data/tflite/mlp_encoder.tflite");
    /// let net = Network::new(model)?;
    /// let mut arena = vec![0u8; net.required_arena()];
    /// let it = net.interpreter(&mut arena)?;
    /// for layer in it.layer_paths() {
    ///     let layer = layer?;
    ///     if layer.operator == "FULLY_CONNECTED" {
    ///         assert!(matches!(layer.kernel, Some(Kernel::FullyConnected | Kernel::Packed)));
    ///     }
    ///     println!("{} {}: {}", layer.index, layer.operator, layer.path.name());
    /// }
    /// # Ok::<(), fvae::Error>(())
    /// ```
    pub fn layer_paths(&self) -> impl Iterator<Item = Result<LayerPath>> + '_ {
        let (mut w, mut left) = (0usize, self.net.runs);
        core::iter::from_fn(move || {
            left = left.checked_sub(1)?;
            Some(self.layer_path_at(&mut w))
        })
    }

    /// The [`LayerPath`] of the operator whose description starts at word `*w` of the arena (as
    /// `invoke` walks them), and `*w` moved past its constants.
    fn layer_path_at(&self, w: &mut usize) -> Result<LayerPath> {
        // The layout `invoke` walks: the stored description (its head first), then the constants.
        let head: &[i32; HEAD_WORDS] = sub(self.words, *w..*w + HEAD_WORDS)?.try_into().map_err(|_| {
            Error::BufferTooSmall { what: "nn arena", needed: *w + HEAD_WORDS, given: self.words.len() }
        })?;
        let (kind, flags, index) = (head[at::KIND], head[at::FLAGS], head[at::INDEX] as usize);
        let (n, pw) = (head[at::STORED] as usize, head[at::PERS_WORDS] as usize);
        let (stored, params) = split(sub(self.words, *w..*w + n + pw)?, n)?;
        *w += n + pw;
        let net = self.net;
        let code = net.model.operator_code(net.graph.operator(index)?.opcode_index())?;
        let kernel = match Kind::from_i32(kind) {
            Some(Kind::FullyConnected) if flags & PACKED == 0 => Some(Kernel::FullyConnected),
            Some(Kind::TransposeConv) if flags & transpose_conv_f32::FLOAT != 0 => None,
            Some(Kind::FullyConnected | Kind::Conv2d | Kind::TransposeConv) => Some(if flags & PACKED != 0 {
                Kernel::Packed
            } else if flags & PAIRS != 0 {
                Kernel::Pairs
            } else {
                Kernel::Matvec
            }),
            _ => None,
        };
        let path = match kernel {
            None => Path::Scalar,
            Some(Kernel::FullyConnected) => {
                // The weights in place in the model, as the fused kernel gets them.
                let run =
                    Run { model: net.model.bytes(), desc: stored, params, lut: &[], acc: &mut [], patch: &mut [] };
                let weights = run.weights_at(head[at::W_OFF], head[at::W_LEN])?;
                fully_connected_path(head[at::IN_C] as usize, weights, params)
            }
            Some(k) => kernel_path(k),
        };
        Ok(LayerPath { index, operator: op::name(code.builtin), kernel, path })
    }
}
