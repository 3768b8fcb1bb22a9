//! Crafted files that ask a reader for more work than their size: `.tflite` vectors whose
//! entries all point at one table (S subgraphs x O operators x I inputs look-ups from a few
//! kilobytes), chains of nested tables, counts past the model's limits; `.npy` and
//! `.safetensors` headers with overflowing shapes, huge lengths and deep nesting. Each must be
//! refused with the error that names the bound (the budget, the limit, the overflow), so the
//! work done is the bound's, linear in the file's size. The time limit is only a hang catcher:
//! other architectures run emulated (qemu-user, Node) on a loaded machine.

#[path = "crafted/mod.rs"]
mod crafted;
use crafted::*;
use fvae::formats::npy::{self, Npy};
use fvae::formats::safetensors::{self, SafeTensors};
use fvae::formats::tflite::{self, Limits, Model};
use fvae::nn::{Network, MAX_TENSORS};
use fvae::Error;
use std::time::{Duration, Instant};

const HANG: Duration = Duration::from_secs(if cfg!(target_arch = "x86_64") { 2 } else { 30 });

/// Runs `f`, checks it ended within [`HANG`], and returns its result.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let r = f();
    assert!(start.elapsed() < HANG, "{what}: took {:?}", start.elapsed());
    r
}

fn assert_budget_error(what: &str, r: Result<impl Sized, Error>) {
    match r {
        Err(Error::Format { format: "tflite", reason, .. }) if reason == tflite::BUDGET_EXCEEDED => {}
        Err(e) => panic!("{what}: not the budget error: {e}"),
        Ok(_) => panic!("{what}: accepted"),
    }
}

#[test]
fn shared_tables_are_refused_by_the_visit_budget() {
    for n in [1000, 3000] {
        let file = tflite_shared(Shared { subgraphs: n, tensors: 1, operators: n, inputs: n, outputs: 1 });
        assert!(file.len() < 13 * n, "{n}: {} bytes", file.len());
        assert_budget_error("Model::parse", timed("Model::parse", || Model::parse(&file)));
        assert_budget_error("Network::new", timed("Network::new", || Network::new(&file)));
    }
    // Each level alone repeats entries too: operators sharing one table, inputs naming one tensor.
    for n in [
        Shared { subgraphs: 1, tensors: 1, operators: 3000, inputs: 3000, outputs: 1 },
        Shared { subgraphs: 3000, tensors: 3000, operators: 1, inputs: 1, outputs: 1 },
    ] {
        let file = tflite_shared(n);
        assert_budget_error("Model::parse", timed("Model::parse", || Model::parse(&file)));
    }
}

#[test]
fn long_vectors_without_sharing_are_read() {
    // One operator with 50 000 inputs: every entry is its own 4 bytes, within the budget.
    let file = tflite_shared(Shared { subgraphs: 1, tensors: 1, operators: 1, inputs: 50_000, outputs: 1 });
    let m = timed("Model::parse", || Model::parse(&file)).unwrap();
    assert_eq!(m.subgraph(0).unwrap().operator(0).unwrap().inputs().len(), 50_000);
    // The real models parse (their walk stays within the budget).
    for rel in ["tflite/mlp_encoder.tflite", "tflite/conv_decoder.tflite", "fvvae/encoder.tflite"] {
        let bytes = std::fs::read(format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        Model::parse(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
}

#[test]
fn counts_past_the_limits_are_refused_before_the_walk() {
    let file = tflite_shared(Shared { subgraphs: 1, tensors: 200, operators: 1, inputs: 1, outputs: 1 });
    let few = Limits::NONE.with_tensors(MAX_TENSORS);
    match timed("parse_with", || Model::parse_with(&file, &few)) {
        Err(Error::Unsupported { what, index: 200 }) => assert!(what.contains("tensors"), "{what}"),
        r => panic!("not the tensor limit: {r:?}"),
    }
    // Network::new asks for MAX_TENSORS: the same file is refused by its count.
    match timed("Network::new", || Network::new(&file)) {
        Err(Error::Unsupported { what, index: 200 }) => assert!(what.contains("tensors"), "{what}"),
        r => panic!("Network::new: not the tensor limit: {:?}", r.err()),
    }
    let file = tflite_shared(Shared { subgraphs: 3, tensors: 1, operators: 2, inputs: 1, outputs: 1 });
    assert!(matches!(
        Model::parse_with(&file, &Limits::NONE.with_subgraphs(2)),
        Err(Error::Unsupported { index: 3, .. })
    ));
    assert!(matches!(
        Model::parse_with(&file, &Limits::NONE.with_operators(1)),
        Err(Error::Unsupported { index: 2, .. })
    ));
    // 5 000 graph outputs naming one tensor: each is its own 4 bytes, so the model parses, but
    // a network refuses a list longer than its tensors before anything walks it per entry.
    let file = tflite_shared(Shared { subgraphs: 1, tensors: 1, operators: 1, inputs: 1, outputs: 5000 });
    assert!(Model::parse(&file).is_ok());
    match timed("Network::new", || Network::new(&file)) {
        Err(Error::Value { what: "graph outputs", index: 5000, .. }) => {}
        r => panic!("Network::new: not the output count: {:?}", r.err()),
    }
    // A vector whose count claims 2^32 - 1 entries: refused by the bytes it claims.
    let mut file = tflite_shared(Shared { subgraphs: 1, tensors: 1, operators: 1, inputs: 1, outputs: 1 });
    let at = file.len() - 8; // the operator's outputs vector: count, one entry
    file[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    match Model::parse(&file) {
        Err(Error::Format { offset, reason, .. }) => {
            assert_eq!((offset, reason), (at, "vector runs past the end of the buffer"))
        }
        r => panic!("huge vector count: {r:?}"),
    }
}

#[test]
fn nested_table_chains_end_quickly() {
    for depth in [4, 10, 10_000] {
        let file = tflite_chain(depth);
        // The reader follows the schema (at most 4 tables deep), so the chain's length does not
        // matter: what is read is malformed and refused.
        assert!(timed("chain", || Model::parse(&file)).is_err(), "{depth}");
    }
}

#[test]
fn npy_overflowing_shapes_and_long_headers_are_refused() {
    for shape in ["(0, 1099511627776, 1099511627776)", "(1099511627776, 1099511627776, 0)", "(4294967296, 4294967296)"]
    {
        let file = npy(shape, &[]);
        match timed(shape, || Npy::parse(&file)) {
            Err(Error::Format { reason, .. }) => {
                assert!(reason.contains("overflows"), "{shape}: {reason}")
            }
            r => panic!("{shape}: {r:?}"),
        }
        assert!(npy::Header::parse(&file).is_err(), "{shape}");
    }
    // A zero-size array with a plausible shape is still an array.
    let h = npy::Header::parse(&npy("(0, 64)", &[])).unwrap();
    assert_eq!((h.rows_cols(), h.data_len), ((0, 64), 0));
    // A header length of 4 GiB is refused from the 12 bytes that claim it.
    let file = npy_long_header(u32::MAX, 100_000);
    match timed("long header", || npy::Header::parse(&file)) {
        Err(Error::Format { offset: 8, reason, .. }) => assert!(reason.contains("MAX_HEADER"), "{reason}"),
        r => panic!("long header: {r:?}"),
    }
    assert!(npy::Header::parse(&npy_long_header(npy::MAX_HEADER as u32 + 1, npy::MAX_HEADER + 1)).is_err());
    // A long header within the limit is scanned once: shape tuple of 60 000 separators.
    let file = npy(&format!("({})", ",".repeat(60_000)), &[0; 4]);
    assert!(timed("separators", || Npy::parse(&file)).is_ok());
}

#[test]
fn safetensors_overflowing_shapes_deep_nesting_and_long_headers_are_refused() {
    let header = r#"{"w":{"dtype":"F32","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}}"#;
    let file = safetensors(header, &[]);
    match timed("overflow", || SafeTensors::parse(&file)) {
        // On a 32-bit target 2^40 is already past usize: refused one step earlier.
        Err(Error::Format { reason, .. }) if usize::BITS < 64 => assert_eq!(reason, "dimension overflows usize"),
        Err(Error::Format { reason, .. }) => assert_eq!(reason, "tensor size overflows"),
        r => panic!("overflowing shape: {r:?}"),
    }
    let header = r#"{"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}}"#;
    assert!(SafeTensors::parse(&safetensors(header, &[])).is_err());
    let header = r#"{"w":{"dtype":"F32","shape":[0,64],"data_offsets":[0,0]}}"#;
    assert_eq!(SafeTensors::parse(&safetensors(header, &[])).unwrap().tensor("w").unwrap().bytes().len(), 0);
    for depth in [18, 100_000] {
        let file = safetensors_nested(depth);
        match timed("nested", || SafeTensors::parse(&file)) {
            Err(Error::Format { reason, .. }) => assert_eq!(reason, "nested too deeply"),
            r => panic!("{depth}: {r:?}"),
        }
    }
    // A header length past MAX_HEADER is refused before it is read.
    let mut file = (safetensors::MAX_HEADER as u64 + 1).to_le_bytes().to_vec();
    file.resize(safetensors::MAX_HEADER + 64, b' ');
    assert!(matches!(SafeTensors::parse(&file), Err(Error::Format { offset: 0, .. })));
    // A header of 10 000 entries is read in one pass per look-up.
    let entries: Vec<String> =
        (0..10_000).map(|i| format!(r#""t{i}":{{"dtype":"I8","shape":[1],"data_offsets":[{i},{}]}}"#, i + 1)).collect();
    let file = safetensors(&format!("{{{}}}", entries.join(",")), &[7; 10_000]);
    let st = timed("many entries", || SafeTensors::parse(&file)).unwrap();
    assert_eq!(timed("last entry", || st.tensor("t9999")).unwrap().bytes(), &[7]);
}
