//! Chooses the Cortex-M DSP path (cfg `fvae_arm_dsp`) from the target name, because stable rustc
//! exposes no `target_feature` cfg for the DSP extension of thumb targets.
//!
//! - `thumbv7em-*` (Cortex-M4/M7, which always have the DSP extension): on.
//! - Anything else (`thumbv6m`, which cannot assemble `smlad`; `thumbv8m.main`, whose DSP
//!   extension is optional): off, unless `FVAE_ARM_DSP=1` is set for a build that enables the
//!   extension itself (`-C target-feature=+dsp`, for example on a Cortex-M33).
//! - `FVAE_ARM_DSP=0` turns it off (to run the scalar reference on a Cortex-M4).
//!
//! Also cfg `fvae_arm_fpu`: a single-precision FPU (VFPv4-SP: `vsqrt.f32`, `vldm`/`vstm` of S
//! registers), for the hard-float Cortex-M targets `thumbv7em-none-eabihf` (M4F, M7) and
//! `thumbv8m.main-none-eabihf` (M33F). `FVAE_ARM_FPU=0` turns it off (the scalar reference).

fn main() {
    println!("cargo:rustc-check-cfg=cfg(fvae_arm_dsp)");
    println!("cargo:rerun-if-env-changed=FVAE_ARM_DSP");
    let target = std::env::var("TARGET").unwrap_or_default();
    let by_name = target.starts_with("thumbv7em");
    let on = match std::env::var("FVAE_ARM_DSP").as_deref() {
        Ok("1") => target.starts_with("thumb"),
        Ok("0") => false,
        _ => by_name,
    };
    if on {
        println!("cargo:rustc-cfg=fvae_arm_dsp");
    }
    println!("cargo:rustc-check-cfg=cfg(fvae_arm_fpu)");
    println!("cargo:rerun-if-env-changed=FVAE_ARM_FPU");
    let fpu = (target.starts_with("thumbv7em") || target.starts_with("thumbv8m.main")) && target.ends_with("eabihf");
    if fpu && std::env::var("FVAE_ARM_FPU").as_deref() != Ok("0") {
        println!("cargo:rustc-cfg=fvae_arm_fpu");
    }
}
