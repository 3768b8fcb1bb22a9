//! Chooses the Cortex-M DSP path (cfg `fvae_arm_dsp`) from the target name and the build's
//! `-C target-cpu` / `-C target-feature`, because stable rustc exposes no `target_feature` cfg
//! for the DSP extension of thumb targets.
//!
//! - `thumbv7em-*` (Cortex-M4/M7, which always have the DSP extension): on.
//! - `thumbv8m.main-*` (Cortex-M33/M35P/M55/M85, whose DSP extension is optional): on when the
//!   build names a core that has it (`-C target-cpu=cortex-m33`, `cortex-m35p`, `cortex-m55`,
//!   `cortex-m85`) or enables it (`-C target-feature=+dsp`); LLVM rejects `smlad` otherwise.
//! - Anything else (`thumbv6m`, which cannot assemble `smlad`): off.
//! - `FVAE_ARM_DSP=1` forces it on for any thumb target (the build must enable the extension),
//!   `FVAE_ARM_DSP=0` off (to run the scalar reference on a Cortex-M4).
//!
//! Also cfg `fvae_arm_fpu`: a single-precision FPU (VFPv4-SP: `vsqrt.f32`, `vldm`/`vstm` of S
//! registers), for the hard-float Cortex-M targets `thumbv7em-none-eabihf` (M4F, M7) and
//! `thumbv8m.main-none-eabihf` (M33F). `FVAE_ARM_FPU=0` turns it off (the scalar reference).

fn main() {
    println!("cargo:rustc-check-cfg=cfg(fvae_arm_dsp)");
    println!("cargo:rerun-if-env-changed=FVAE_ARM_DSP");
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = flags.split('\x1f').collect();
    // The value of each `-C key=value` (or `-Ckey=value`) flag with this key.
    let values = |key: &str| -> Vec<String> {
        let mut out = Vec::new();
        for (i, f) in flags.iter().enumerate() {
            let arg = match *f {
                "-C" => flags.get(i + 1).copied().unwrap_or(""),
                f => f.strip_prefix("-C").unwrap_or(""),
            };
            if let Some(v) = arg.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                out.push(v.to_string());
            }
        }
        out
    };
    let dsp_cpu = values("target-cpu")
        .iter()
        .any(|c| matches!(c.as_str(), "cortex-m33" | "cortex-m35p" | "cortex-m55" | "cortex-m85"));
    let dsp_feature = values("target-feature").iter().any(|f| f.split(',').any(|x| x == "+dsp"));
    let by_name = target.starts_with("thumbv7em") || (target.starts_with("thumbv8m.main") && (dsp_cpu || dsp_feature));
    let on = match std::env::var("FVAE_ARM_DSP").as_deref() {
        Ok("1") => target.starts_with("thumb"),
        Ok("0") => false,
        _ => by_name,
    };
    if on {
        println!("cargo:rustc-cfg=fvae_arm_dsp");
    }
    // The architecture this target declares to the assembler, which assembly that sets `.fpu` or
    // another `.arch` restores after it (see `restore_asm_state!` in src/lib.rs).
    let arch = [
        ("thumbv6m", "armv6-m"),
        ("thumbv7em", "armv7e-m"),
        ("thumbv7m", "armv7-m"),
        ("thumbv8m.base", "armv8-m.base"),
        ("thumbv8m.main", "armv8-m.main"),
    ]
    .iter()
    .find(|(prefix, _)| target.starts_with(prefix))
    .map_or("", |(_, arch)| arch);
    println!("cargo:rustc-env=FVAE_ASM_ARCH={arch}");
    // And its FPU (the hard-float targets' own; `.arch` above resets the FPU to none).
    let fpu_line = if !target.ends_with("eabihf") {
        ""
    } else if target.starts_with("thumbv8m.main") {
        ".fpu fpv5-sp-d16"
    } else {
        ".fpu fpv4-sp-d16"
    };
    println!("cargo:rustc-env=FVAE_ASM_FPU_LINE={fpu_line}");
    println!("cargo:rustc-check-cfg=cfg(fvae_arm_fpu)");
    println!("cargo:rerun-if-env-changed=FVAE_ARM_FPU");
    let fpu = (target.starts_with("thumbv7em") || target.starts_with("thumbv8m.main")) && target.ends_with("eabihf");
    if fpu && std::env::var("FVAE_ARM_FPU").as_deref() != Ok("0") {
        println!("cargo:rustc-cfg=fvae_arm_fpu");
    }
}
