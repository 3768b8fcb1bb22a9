//! [`Network`]: a validated `.tflite` subgraph with its memory plan, and [`TensorInfo`], what its
//! inputs and outputs are.

use super::fold;
use super::interpreter::Interpreter;
use super::plan::{arena_bytes, plan, UNPLANNED};
use super::registry::describe;
use super::setup::tensor_ref;
use crate::formats::cast_slice_mut;
use crate::formats::tflite::{Limits, Model, SubGraph, TensorType};
use crate::{Error, Result};

/// Most tensors (constants included) a subgraph may have: the memory plan keeps one offset per
/// tensor inline in [`Network`].
pub const MAX_TENSORS: usize = 128;
/// Most dimensions of a tensor fvae computes with.
pub const MAX_RANK: usize = 6;

/// A validated network with its memory plan: subgraph 0 of a `.tflite` model, read in place.
#[derive(Debug, Clone)]
pub struct Network<'m> {
    pub(super) model: Model<'m>,
    pub(super) graph: SubGraph<'m>,
    pub(super) ops: usize,
    /// The operators that run (the others are folded at plan time and stored nowhere).
    pub(super) runs: usize,
    /// Byte offset of each activation tensor inside the activation region.
    pub(super) offsets: [u32; MAX_TENSORS],
    pub(super) activation_bytes: usize,
    pub(super) persistent_words: usize,
    pub(super) scratch_words: usize,
    pub(super) scratch_bytes: usize,
    pub(super) lut_bytes: usize,
    /// [`Network::required_arena`], computed (checked) once.
    pub(super) arena_bytes: usize,
}

/// What a graph input or output is: element type, shape and quantisation.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorInfo {
    /// The element type.
    pub dtype: TensorType,
    /// The shape (the first `rank` entries).
    pub dims: [usize; MAX_RANK],
    /// The number of dimensions.
    pub rank: usize,
    /// The number of elements.
    pub len: usize,
    /// `real = scale * (q - zero_point)` (0 for float tensors).
    pub scale: f32,
    /// The zero point.
    pub zero_point: i32,
}

impl TensorInfo {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.dims[..self.rank]
    }
}

impl<'m> Network<'m> {
    /// Parses the model, checks every operator of subgraph 0 and plans the activation memory.
    ///
    /// Errors: a malformed buffer ([`Error::Format`]), an operator, element type or option
    /// fvae does not implement ([`Error::Unsupported`] with the operator index), inconsistent
    /// shapes ([`Error::Shape`]), more than [`MAX_TENSORS`] tensors or 65 534 operators in any
    /// subgraph (refused from the counts, before the model is walked).
    pub fn new(bytes: &'m [u8]) -> Result<Self> {
        let limits = Limits::NONE.with_tensors(MAX_TENSORS).with_operators(u16::MAX as usize - 1);
        let model = Model::parse_with(bytes, &limits)?;
        let graph = model.subgraph(0)?;
        let n_tensors = graph.tensors_len();
        if n_tensors > MAX_TENSORS {
            return Err(Error::Unsupported { what: "more than MAX_TENSORS (128) tensors", index: n_tensors });
        }
        // Graph inputs and outputs are distinct tensors: a longer list repeats entries (and would
        // make whoever walks it per entry do more work than the file holds).
        for (list, what) in [(graph.inputs()?, "graph inputs"), (graph.outputs()?, "graph outputs")] {
            if list.len() > n_tensors {
                return Err(Error::Value {
                    what,
                    index: list.len(),
                    reason: "more entries than the subgraph has tensors",
                });
            }
        }
        let ops = graph.operators_len();
        if ops == 0 {
            return Err(Error::Empty { what: "tflite subgraph (no operators)" });
        }
        // Every operator writes a tensor of its own, so a valid graph has no more operators than
        // tensors; saying so first bounds the plan-time folding's searches (`fold.rs`).
        if ops > n_tensors {
            return Err(Error::Unsupported { what: "more operators than tensors", index: ops });
        }
        // Lifetimes of activation tensors: [first op writing (0 for graph inputs), last op
        // reading (ops for graph outputs)].
        if ops >= u16::MAX as usize {
            return Err(Error::Unsupported { what: "more than 65534 operators", index: ops });
        }
        // u16 op indices keep this set-up frame small on a microcontroller's stack.
        let mut first = [u16::MAX; MAX_TENSORS];
        let mut last = [0u16; MAX_TENSORS];
        let mut size = [0u32; MAX_TENSORS];
        let mut persistent_words = 0usize;
        let mut runs = 0usize;
        let (mut scratch_words, mut scratch_bytes, mut lut_bytes) = (0usize, 0usize, 0usize);
        let mut mark = |t: i32, at: u16, write: bool| -> Result<()> {
            let r = tensor_ref(&model, &graph, t)?;
            if r.data.is_some() {
                return Ok(());
            }
            let i = t as usize;
            // `get_mut`: `tensor_ref` checked the index, which the optimiser cannot see.
            let (Some(size), Some(first), Some(last)) = (size.get_mut(i), first.get_mut(i), last.get_mut(i)) else {
                return Err(Error::Unsupported { what: "tensor index", index: i });
            };
            *size = r.bytes() as u32;
            if write {
                if *first != u16::MAX {
                    return Err(Error::Unsupported { what: "tensor written twice", index: i });
                }
                *first = at;
            } else if *first == u16::MAX || *first > at {
                return Err(Error::Value { what: "tflite tensor", index: i, reason: "read before it is written" });
            }
            *last = (*last).max(at);
            Ok(())
        };
        for t in graph.inputs()?.iter() {
            mark(t, 0, true)?;
        }
        for i in 0..ops {
            let d = describe(&model, &graph, i)?;
            if d.kind == fold::FOLDED {
                continue;
            }
            runs += 1;
            persistent_words = persistent_words.saturating_add(d.stored_words() + d.pers_words as usize);
            scratch_words = scratch_words.max(d.scratch_words as usize);
            scratch_bytes = scratch_bytes.max(d.scratch_bytes as usize);
            lut_bytes = lut_bytes.saturating_add(d.lut_bytes as usize);
            for t in [d.input, d.input2] {
                if t >= 0 {
                    mark(t, i as u16, false)?;
                }
            }
            if d.outputs > 1 {
                for t in graph.operator(i)?.outputs().iter() {
                    mark(t, i as u16, true)?;
                }
            } else {
                mark(d.output, i as u16, true)?;
            }
        }
        for t in graph.outputs()?.iter() {
            mark(t, ops as u16, false)?;
        }
        let mut offsets = [UNPLANNED; MAX_TENSORS];
        let activation_bytes = plan(&first, &last, &size, &mut offsets[..n_tensors])?;
        // Checked: on a 32-bit target a large model's sizes can sum past usize.
        let arena_bytes = arena_bytes([persistent_words, scratch_words], [scratch_bytes, lut_bytes, activation_bytes])?;
        Ok(Network {
            model,
            graph,
            ops,
            runs,
            offsets,
            activation_bytes,
            persistent_words,
            scratch_words,
            scratch_bytes,
            lut_bytes,
            arena_bytes,
        })
    }

    /// Bytes of caller memory [`Network::interpreter`] needs: operator constants (multipliers,
    /// folded biases, lookup tables), scratch for the largest operator, and the activations as
    /// planned from tensor lifetimes (tensors whose lifetimes do not overlap share memory),
    /// plus 3 bytes of slack to align the start to 4 bytes.
    pub fn required_arena(&self) -> usize {
        self.arena_bytes
    }

    /// Bytes the activations alone take (the planned peak of simultaneously live tensors).
    pub fn activation_bytes(&self) -> usize {
        self.activation_bytes
    }

    /// The number of operators.
    pub fn operators(&self) -> usize {
        self.ops
    }

    /// The model.
    pub fn model(&self) -> &Model<'m> {
        &self.model
    }

    fn io_info(&self, list: crate::formats::tflite::I32s<'m>, i: usize, what: &'static str) -> Result<TensorInfo> {
        let t = list.get(i).ok_or(Error::Missing { format: "tflite", name: what })?;
        let r = tensor_ref(&self.model, &self.graph, t)?;
        Ok(TensorInfo {
            dtype: r.dtype,
            dims: r.dims,
            rank: r.rank,
            len: r.numel,
            scale: r.scale,
            zero_point: r.zero_point,
        })
    }

    /// Graph input `i`.
    pub fn input(&self, i: usize) -> Result<TensorInfo> {
        self.io_info(self.graph.inputs()?, i, "graph input")
    }

    /// Graph output `i`.
    pub fn output(&self, i: usize) -> Result<TensorInfo> {
        self.io_info(self.graph.outputs()?, i, "graph output")
    }

    /// Prepares an interpreter in `arena` (at least [`Network::required_arena`] bytes):
    /// writes each operator's run-time description and constants into it.
    pub fn interpreter<'a>(&'a self, arena: &'a mut [u8]) -> Result<Interpreter<'a, 'm>> {
        let needed = self.required_arena();
        if arena.len() < needed {
            return Err(Error::BufferTooSmall { what: "nn arena", needed, given: arena.len() });
        }
        let skip = arena.as_ptr().align_offset(4).min(3);
        // `_checked` and `get_mut`: `required_arena` covers these (never an error).
        let too_small = Error::BufferTooSmall { what: "nn arena", needed, given: arena.len() };
        let arena = arena.get_mut(skip..).ok_or(too_small)?;
        // (`arena_bytes` checked this sum in `new`; wrapping keeps the panic path out.)
        let word_bytes = self.persistent_words.wrapping_add(self.scratch_words).wrapping_mul(4);
        let (words, bytes) = arena.split_at_mut_checked(word_bytes).ok_or(too_small)?;
        let words: &mut [i32] = cast_slice_mut("nn arena", words)?;
        let bytes = bytes.get_mut(..self.scratch_bytes + self.lut_bytes + self.activation_bytes).ok_or(too_small)?;
        let mut it = Interpreter { net: self, words, bytes };
        it.prepare()?;
        Ok(it)
    }
}
