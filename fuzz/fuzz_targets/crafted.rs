//! Structures that ask the readers for more work than their size, generated from the fuzzer's
//! bytes rather than found by chance: `.tflite` files whose vectors repeat entries (subgraphs x
//! tensors x operators x inputs, each count from the input) or chain nested tables, `.npy` and
//! `.safetensors` headers with shapes of any dimensions, then optionally a few bytes changed.
//! Unchanged files must be accepted exactly when their walk fits the budget (or their shape's
//! byte size fits `isize`); libFuzzer's `-timeout` catches any reader whose work outgrows the
//! file.
#![no_main]

#[path = "../../tests/crafted/mod.rs"]
mod crafted;
use crafted::*;
use fvae::formats::npy::Npy;
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::tflite::{self, Model};
use fvae::formats::{AlignedBuf, Shape};
use fvae::nn::Network;
use libfuzzer_sys::fuzz_target;

/// The fuzzer's bytes as a stream of small numbers.
struct Input<'a>(&'a [u8]);
impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    /// 0 to 4095: counts large enough to outgrow the budget, small enough to build fast.
    fn count(&mut self) -> usize {
        (self.byte() as usize) << 4 | (self.byte() as usize & 15)
    }
    /// A dimension: small, or a power of two up to 2^63.
    fn dim(&mut self) -> u64 {
        match self.byte() {
            b @ 0..=127 => b as u64,
            b => 1u64 << (b % 64),
        }
    }
}

/// Applies the rest of the input as (position, xor) pairs; says whether anything changed.
fn mutate(file: &mut [u8], input: &mut Input<'_>) -> bool {
    let mut changed = false;
    while input.0.len() >= 3 && !file.is_empty() {
        let pos = (input.byte() as usize) << 8 | input.byte() as usize;
        let len = file.len();
        file[pos % len] ^= input.byte();
        changed = true;
    }
    changed
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    match input.byte() % 4 {
        0 => {
            let n = Shared {
                subgraphs: input.count().max(1),
                tensors: input.count().max(1),
                operators: input.count(),
                inputs: input.count(),
                outputs: 1,
            };
            let mut file = tflite_shared(n);
            let changed = mutate(&mut file, &mut input);
            let buf = AlignedBuf::from_bytes(&file);
            let parsed = Model::parse(buf.as_bytes());
            let _ = Network::new(buf.as_bytes());
            if !changed {
                // The entries the walk charges: operator code, buffer, the subgraph entries, and
                // per subgraph its tensors, operators, their inputs and one output each, and
                // the subgraph's one input and its outputs.
                let per_subgraph = n.tensors + n.operators * (1 + n.inputs + 1) + 1 + n.outputs;
                let spend = 2 + n.subgraphs * (1 + per_subgraph);
                match parsed {
                    Ok(_) => assert!(spend <= tflite::visit_budget(file.len()), "{n:?} accepted past the budget"),
                    Err(fvae::Error::Format { reason, .. }) if reason == tflite::BUDGET_EXCEEDED => {
                        assert!(spend > tflite::visit_budget(file.len()), "{n:?} refused within the budget")
                    }
                    Err(e) => panic!("{n:?}: {e}"),
                }
            }
        }
        1 => {
            let mut file = tflite_chain(input.count());
            mutate(&mut file, &mut input);
            let _ = Model::parse(&file);
        }
        2 => {
            let dims: Vec<u64> = (0..input.byte() % 10).map(|_| input.dim()).collect();
            let text: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            let fits = Shape::new(&dims.iter().map(|&d| d as usize).collect::<Vec<_>>())
                .ok()
                .filter(|_| dims.iter().all(|&d| usize::try_from(d).is_ok()))
                .and_then(|s| s.bytes(4));
            let data = vec![0u8; fits.unwrap_or(0).min(1 << 16)];
            let mut file = npy(&format!("({},)", text.join(", ")), &data);
            let changed = mutate(&mut file, &mut input);
            let buf = AlignedBuf::from_bytes(&file);
            let r = Npy::parse(buf.as_bytes());
            if !changed && fits.is_some_and(|b| b <= 1 << 16) {
                let a = r.unwrap_or_else(|e| panic!("{dims:?}: {e}"));
                assert_eq!(a.shape().numel().map(|n| n * 4), fits);
            } else if !changed && fits.is_none() {
                assert!(r.is_err(), "{dims:?} accepted");
            }
        }
        _ => {
            let dims: Vec<String> = (0..input.byte() % 10).map(|_| input.dim().to_string()).collect();
            let depth = input.count();
            let header = format!(
                r#"{{"__metadata__":{}{},"w":{{"dtype":"F32","shape":[{}],"data_offsets":[0,0]}}}}"#,
                "[".repeat(depth),
                "]".repeat(depth),
                dims.join(",")
            );
            let mut file = safetensors(&header, &[]);
            mutate(&mut file, &mut input);
            if let Ok(st) = SafeTensors::parse(&file) {
                let _ = st.tensor("w").map(|t| t.bytes().len());
            }
        }
    }
});
