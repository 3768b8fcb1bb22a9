//! Regenerates include/fvae.h from the exported items with cbindgen. The header is committed;
//! run-c-tests.sh fails when a build changes it (a stale header in git).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).expect("capi/cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not read capi/src")
        .write_to_file(format!("{dir}/include/fvae.h"));
}
