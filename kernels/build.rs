// Chooses the Cortex-M DSP paths from the target name: stable rustc exposes no target_feature
// cfg for the DSP extension on thumb targets.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(fvae_arm_dsp)");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em") || target.starts_with("thumbv8m.main") {
        println!("cargo:rustc-cfg=fvae_arm_dsp");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
