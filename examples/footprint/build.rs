//! Writes `memory-qemu.x` as `memory.x` where cortex-m-rt's `link.x` finds it: 256K of flash and 16K of RAM, what QEMU's
//! mps2-an386, mps2-an500 and microbit all have, except that the thumbv7em images (run on the mps2
//! boards only, 4 MiB of code memory) get 4 MiB of flash: `vqvae_encode_digit`, with its 64 digits
//! and the whole int8 interpreter, outgrew 256K. Flash figures are measured, not bounded, by this.
//! (Not itself named memory.x: the linker looks in this folder before OUT_DIR.)
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let mut memory = fs::read_to_string("memory-qemu.x").expect("read memory-qemu.x");
    if env::var("TARGET").is_ok_and(|t| t.starts_with("thumbv7em")) {
        memory = memory.replace(", LENGTH = 256K", ", LENGTH = 4M");
    }
    fs::write(out.join("memory.x"), memory).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-qemu.x");
    println!("cargo:rerun-if-changed=build.rs");
}
