//! CPU detection: the `cpuid`/`xgetbv` level against std's own detection
//! (`is_x86_feature_detected!`, an independent implementation), and every x86_64 SIMD function's
//! `#[target_feature]` list against the levels detection checks.
//!
//! Under `qemu-x86_64 -cpu Haswell` (AVX2, no AVX-512) or `-cpu Nehalem` (SSE4.2) as the cargo
//! runner, the first test checks the level of the emulated CPU; `FVAE_EXPECT_X86_LEVEL=avx2`
//! (a level name) makes it also assert which level that is.
#![cfg(target_arch = "x86_64")]

use fvae_kernels::cpu::{detected_x86_level, x86_level, X86Level};

/// The level std's detection gives, by the same definition as `X86Level`'s documentation.
fn std_level() -> X86Level {
    let has = |names: &[&str]| {
        names.iter().all(|&n| match n {
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "f16c" => std::is_x86_feature_detected!("f16c"),
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
            "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
            "avx512vnni" => std::is_x86_feature_detected!("avx512vnni"),
            _ => unreachable!("{n}"),
        })
    };
    if has(&["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni"]) {
        X86Level::Avx512Vnni
    } else if has(&["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl"]) {
        X86Level::Avx512
    } else if has(&["avx2", "fma"]) {
        X86Level::Avx2Fma
    } else {
        X86Level::Sse2
    }
}

#[test]
fn detection_agrees_with_std() {
    let (found, want) = (detected_x86_level(), std_level());
    eprintln!("detected {found:?} (std: {want:?}), running {:?}", x86_level());
    assert_eq!(found, want);
    if let Ok(name) = std::env::var("FVAE_EXPECT_X86_LEVEL") {
        assert_eq!(Some(found), X86Level::from_name(&name), "FVAE_EXPECT_X86_LEVEL={name}");
    }
    // The running level is the detected one, capped by FVAE_X86_LEVEL only.
    let cap = std::env::var("FVAE_X86_LEVEL").ok().and_then(|v| X86Level::from_name(&v));
    assert_eq!(x86_level(), cap.map_or(found, |c| found.min(c)));
}

#[test]
fn names_round_trip() {
    for level in X86Level::ALL {
        assert_eq!(X86Level::from_name(level.name()), Some(level));
    }
    assert_eq!(X86Level::from_name("avx512vnni"), Some(X86Level::Avx512Vnni));
    assert_eq!(X86Level::from_name("AVX2"), None);
}

/// Every `#[target_feature(enable = "...")]` in the x86_64 path files is exactly one level's
/// list, so no function uses a feature its dispatch did not check (as a VL instruction in a
/// function dispatched on F and BW would).
#[test]
fn every_x86_target_feature_list_is_a_level() {
    let lists: Vec<&str> = X86Level::ALL.iter().map(|l| l.target_features()).collect();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut seen = 0;
    for family in ["gaussian", "vq", "int8"] {
        let dir = format!("{root}/{family}/x86_64");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                if let Some(rest) = line.trim().strip_prefix("#[target_feature(enable = \"") {
                    let list = rest.split('"').next().unwrap();
                    assert!(
                        lists.contains(&list),
                        "{}:{}: {list:?} is no level's list {lists:?}",
                        path.display(),
                        i + 1
                    );
                    seen += 1;
                }
            }
        }
    }
    assert!(seen > 50, "only {seen} target_feature attributes found");
}
