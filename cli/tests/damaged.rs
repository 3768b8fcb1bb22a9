//! Every command fed damaged files: each model and input file truncated, bit-flipped and spliced
//! with another fixture. Each run must end, within a time limit, either successfully with a
//! readable `.npy` output or with a non-zero exit, exactly one line on stderr, no panic, and
//! nothing left behind in the output folder (no half-written or temporary file).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::data_path as data;

const TIME_LIMIT: Duration = Duration::from_secs(30);

/// One command: its arguments, with `{name}` standing for a file written from `files`.
struct Case {
    args: &'static [&'static str],
    files: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        args: &["logpdf", "--gmm", "{gmm}", "--input", "{x}", "--out", "{out}"],
        files: &[("gmm", "gmm/edge_k4/gmm.safetensors"), ("x", "gmm/edge_k4/x.npy")],
    },
    Case {
        args: &["posteriors", "--gmm", "{gmm}", "--input", "{x}", "--out", "{out}", "--threads", "2"],
        files: &[("gmm", "gmm/edge_k4/gmm.safetensors"), ("x", "gmm/edge_k4/x.npy")],
    },
    Case {
        args: &["fv", "--gmm", "{gmm}", "--input", "{x}", "--out", "{out}", "--improved"],
        files: &[("gmm", "gmm/edge_k4/gmm.safetensors"), ("x", "gmm/edge_k4/x.npy")],
    },
    Case {
        args: &["vq", "--codebook", "{cb}", "--input", "{x}", "--out", "{out}", "--top", "3"],
        files: &[("cb", "vq/digits_m64/codebook.safetensors"), ("x", "vq/digits_m64/x.npy")],
    },
    Case {
        args: &["vq", "--codebook", "{cb}", "--input", "{x}", "--out", "{out}"],
        files: &[("cb", "vq/digits_m64/codebook_int8.safetensors"), ("x", "vq/digits_m64/x_int8.npy")],
    },
    Case {
        args: &["rvq", "encode", "--codebooks", "{cb}", "--input", "{x}", "--out", "{out}"],
        files: &[("cb", "vq/residual_digits_4x16/codebooks.safetensors"), ("x", "gmm/edge_k4/x.npy")],
    },
    Case {
        args: &["rvq", "decode", "--codebooks", "{cb}", "--input", "{x}", "--out", "{out}"],
        files: &[("cb", "vq/residual_digits_4x16/codebooks.safetensors"), ("x", "vq/residual_digits_4x16/codes.npy")],
    },
    Case {
        args: &["decode", "--model", "{m}", "--input", "{x}", "--out", "{out}"],
        files: &[("m", "tflite/mlp_encoder.tflite"), ("x", "tflite/mlp_encoder_input.npy")],
    },
    Case {
        args: &["vqvae", "encode", "--encoder", "{m}", "--codebook", "{cb}", "--input", "{x}", "--out", "{out}"],
        files: &[
            ("m", "vqvae/g4_m16/encoder.tflite"),
            ("cb", "vqvae/g4_m16/codebook_i8.safetensors"),
            ("x", "vqvae/g4_m16/test_decoded.npy"),
        ],
    },
    Case {
        args: &["vqvae", "decode", "--decoder", "{m}", "--codebook", "{cb}", "--input", "{x}", "--out", "{out}"],
        files: &[
            ("m", "vqvae/g4_m16/decoder.tflite"),
            ("cb", "vqvae/g4_m16/codebook.safetensors"),
            ("x", "vqvae/g4_m16/test_indices.npy"),
        ],
    },
];

/// Runs `fvae` with a time limit; returns (success, stderr).
fn run(args: &[String]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fvae"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fvae");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIME_LIMIT {
            child.kill().unwrap();
            panic!("fvae {args:?} still running after {TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.success(), stderr)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Damaged copies of `bytes`: truncations, single bit flips and splices with `other`.
fn damaged(bytes: &[u8], other: &[u8], seed: u64) -> Vec<Vec<u8>> {
    let mut s = seed;
    let mut rand = move |n: usize| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % n.max(1) as u64) as usize
    };
    let n = bytes.len();
    let mut out: Vec<Vec<u8>> =
        [0, 1, 8, 9, 16, 64, n / 2, n - 1].iter().map(|&k| bytes[..k.min(n)].to_vec()).collect();
    for i in 0..10 {
        let mut b = bytes.to_vec();
        // Most flips in the header, where lengths, shapes and offsets are.
        let pos = if i < 7 { rand(n.min(256)) } else { rand(n) };
        b[pos] ^= 1 << rand(8);
        out.push(b);
    }
    for _ in 0..3 {
        let mut b = bytes[..rand(n)].to_vec();
        b.extend_from_slice(&other[rand(other.len())..]);
        out.push(b);
    }
    out
}

#[test]
fn every_command_survives_damaged_files() {
    let root = std::env::temp_dir().join(format!("fvae-cli-damaged-{}", std::process::id()));
    let (mut runs, mut successes) = (0, 0);
    let start = Instant::now();
    for (c, case) in CASES.iter().enumerate() {
        let originals: Vec<Vec<u8>> = case.files.iter().map(|(_, rel)| std::fs::read(data(rel)).unwrap()).collect();
        for (f, (name, _)) in case.files.iter().enumerate() {
            // Splice partner: the case's other file (a model with an input, and vice versa).
            let other = &originals[(f + 1) % originals.len()];
            for (v, bad) in damaged(&originals[f], other, 0x9E37_79B9 + (c * 8 + f) as u64).into_iter().enumerate() {
                let dir = root.join(format!("{c}-{name}-{v}"));
                std::fs::create_dir_all(&dir).unwrap();
                for (g, (n, _)) in case.files.iter().enumerate() {
                    std::fs::write(dir.join(n), if g == f { &bad } else { &originals[g] }).unwrap();
                }
                let inputs = listing(&dir);
                let out = dir.join("out.npy");
                let args: Vec<String> = case
                    .args
                    .iter()
                    .map(|a| match a.strip_prefix('{').and_then(|a| a.strip_suffix('}')) {
                        Some("out") => out.to_string_lossy().into_owned(),
                        Some(n) => dir.join(n).to_string_lossy().into_owned(),
                        None => a.to_string(),
                    })
                    .collect();
                let (ok, stderr) = run(&args);
                runs += 1;
                let what = format!("fvae {} with damaged {name} #{v}", case.args[..2].join(" "));
                assert!(!stderr.contains("panicked"), "{what}: panic: {stderr}");
                if ok {
                    successes += 1;
                    let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{what}: success without output: {e}"));
                    fvae::formats::npy::Npy::parse(&bytes).unwrap_or_else(|e| panic!("{what}: unreadable output: {e}"));
                } else {
                    let lines: Vec<&str> = stderr.lines().collect();
                    assert!(lines.len() == 1 && !lines[0].trim().is_empty(), "{what}: stderr not one line: {stderr:?}");
                    assert_eq!(listing(&dir), inputs, "{what}: a failed run left a file behind ({})", lines[0]);
                }
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }
    eprintln!("{runs} damaged runs ({successes} succeeded) in {:?}", start.elapsed());
    assert!(runs >= 300);
    // Some damage is harmless (a flipped data bit): both outcomes must have been exercised.
    assert!(successes > 0 && successes < runs);
}

#[path = "../../tests/crafted/mod.rs"]
mod crafted;

/// Crafted files that ask for more work than their size (shared flatbuffer tables, overflowing
/// shapes, huge header lengths, deep nesting), given to the commands that read each kind: each
/// run must be refused with one line naming the bound, well within the hang catcher's limit
/// (the readers' work is linear in the file's size, so each is milliseconds).
#[test]
fn crafted_files_are_refused_with_the_bound_they_break() {
    use crafted::*;
    let root = std::env::temp_dir().join(format!("fvae-cli-crafted-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let shared = |n| tflite_shared(Shared { subgraphs: n, tensors: 1, operators: n, inputs: n, outputs: 1 });
    let overflowing = r#"{"weights":{"dtype":"F32","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}}"#;
    // (file, command with {f} for it, text the error must contain)
    let cases: Vec<(Vec<u8>, Vec<&str>, &str)> = vec![
        (
            shared(1000),
            vec!["decode", "--model", "{f}", "--input", "{tflite/mlp_encoder_input.npy}"],
            "more table visits",
        ),
        (
            shared(3000),
            vec!["decode", "--model", "{f}", "--input", "{tflite/mlp_encoder_input.npy}"],
            "more table visits",
        ),
        (tflite_chain(10_000), vec!["decode", "--model", "{f}", "--input", "{tflite/mlp_encoder_input.npy}"], "tflite"),
        (
            npy("(0, 1099511627776, 1099511627776)", &[]),
            vec!["logpdf", "--gmm", "{gmm/edge_k4/gmm.safetensors}", "--input", "{f}"],
            "overflows",
        ),
        (
            npy("(0, 1099511627776, 1099511627776)", &[]),
            vec!["vq", "--codebook", "{vq/digits_m64/codebook.safetensors}", "--input", "{f}"],
            "overflows",
        ),
        (
            npy("(0, 1099511627776, 1099511627776)", &[]),
            vec!["decode", "--model", "{tflite/mlp_encoder.tflite}", "--input", "{f}"],
            "overflows",
        ),
        (
            npy("(0, 1099511627776, 1099511627776)", &[]),
            vec!["fit-gmm", "--components", "2", "--input", "{f}"],
            "overflows",
        ),
        (
            npy_long_header(u32::MAX, 4096),
            vec!["fv", "--gmm", "{gmm/edge_k4/gmm.safetensors}", "--input", "{f}"],
            "MAX_HEADER",
        ),
        (safetensors(overflowing, &[]), vec!["logpdf", "--gmm", "{f}", "--input", "{gmm/edge_k4/x.npy}"], "overflows"),
        (
            safetensors(overflowing, &[]),
            vec!["rvq", "encode", "--codebooks", "{f}", "--input", "{gmm/edge_k4/x.npy}"],
            "overflows",
        ),
        (
            safetensors_nested(100_000),
            vec!["vq", "--codebook", "{f}", "--input", "{vq/digits_m64/x.npy}"],
            "nested too deeply",
        ),
    ];
    for (i, (bytes, args, reason)) in cases.iter().enumerate() {
        let file = root.join(format!("crafted-{i}"));
        std::fs::write(&file, bytes).unwrap();
        let out = root.join(format!("out-{i}"));
        let mut argv: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix('{').and_then(|a| a.strip_suffix('}')) {
                Some("f") => file.to_string_lossy().into_owned(),
                Some(rel) => data(rel).to_string_lossy().into_owned(),
                None => a.to_string(),
            })
            .collect();
        argv.extend(["--out".to_string(), out.to_string_lossy().into_owned()]);
        let start = Instant::now();
        let (ok, stderr) = run(&argv);
        let what = format!("fvae {} with crafted file #{i}", args.join(" "));
        assert!(!ok && stderr.lines().count() == 1, "{what}: {ok} {stderr:?}");
        assert!(stderr.contains(reason), "{what}: error does not name {reason:?}: {stderr}");
        assert!(!out.exists(), "{what}: left an output");
        eprintln!("{what}: {:?}: {}", start.elapsed(), stderr.trim());
    }
    std::fs::remove_dir_all(&root).unwrap();
}
