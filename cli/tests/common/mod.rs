//! What every `fvae` command-line test shares: the repository's test data, the binary, and a
//! scratch directory per test program.
#![allow(dead_code)] // each test program uses what it needs

use std::path::PathBuf;
use std::process::{Command, Output};

/// `tests/data/<rel>` of the repository.
pub fn data_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data").join(rel)
}

/// [`data_path`] as a command-line argument.
pub fn data_arg(rel: &str) -> String {
    data_path(rel).to_string_lossy().into_owned()
}

/// Runs the `fvae` binary with `args`.
pub fn fvae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fvae")).args(args).output().expect("run fvae")
}

/// `name` in this test program's scratch directory (created if needed).
pub fn tmp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fvae-cli-{}-{}", env!("CARGO_CRATE_NAME"), std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// [`tmp_path`] as a command-line argument.
pub fn tmp_arg(name: &str) -> String {
    tmp_path(name).to_string_lossy().into_owned()
}
