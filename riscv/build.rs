//! Tells the program its target triple (printed), and relinks when memory.x changes.
fn main() {
    println!("cargo:rustc-env=FVAE_RISCV_TARGET={}", std::env::var("TARGET").unwrap());
    println!("cargo:rerun-if-changed=memory.x");
}
