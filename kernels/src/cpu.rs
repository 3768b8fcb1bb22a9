//! Which instruction-set path runs.
//!
//! On x86_64 the CPU is asked once, at the first kernel call, with `cpuid` and `xgetbv` from
//! `core::arch` (no `std` needed): the C library, `no_std` hosts and `std` programs run the same
//! path on the same CPU. The answer is one [`X86Level`], kept in one atomic for the whole crate;
//! every x86_64 kernel dispatches by matching it. A level is reported only when the CPU has all
//! of its features *and* the operating system saves the registers they use (XCR0), and each
//! SIMD function enables exactly its level's [`X86Level::target_features`].
//!
//! The level can be capped, to compare paths in one binary on one machine: with the `std`
//! feature by the environment variable `FVAE_X86_LEVEL` (`sse2`, `avx2`, `avx512bw`, `avx512`),
//! read at detection; in any build by [`cap_x86_level`].
//!
//! On aarch64 NEON runs where the build targets it (`target_feature = "neon"`, every aarch64
//! target but the soft-float ones); on wasm32 simd128 is a build choice
//! (`-C target-feature=+simd128`). Other targets use the scalar reference.

#[cfg(target_arch = "x86_64")]
use core::sync::atomic::{AtomicU8, Ordering};

/// An x86_64 instruction-set level, ordered from least to most capable. Each level includes the
/// ones below it.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum X86Level {
    /// SSE2: every x86_64 CPU has it.
    Sse2 = 1,
    /// AVX2 with FMA (x86-64-v3's vector part), with the OS saving the YMM registers.
    Avx2Fma = 2,
    /// AVX-512 F, BW and VL (with AVX2 and FMA, which they imply), with the OS saving the
    /// opmask and ZMM registers: the f32 AVX-512 paths and the int8 BW paths.
    Avx512 = 3,
    /// [`X86Level::Avx512`] plus AVX-512 VNNI (`vpdpbusd`, `vpdpwssd`): the int8 VNNI paths.
    Avx512Vnni = 4,
}

#[cfg(target_arch = "x86_64")]
impl X86Level {
    /// Every level, lowest first.
    pub const ALL: [X86Level; 4] = [X86Level::Sse2, X86Level::Avx2Fma, X86Level::Avx512, X86Level::Avx512Vnni];

    /// The `#[target_feature(enable = ...)]` list of every function this level's dispatch runs:
    /// what detection checked for it (with the features these imply in rustc: AVX2 and FMA imply
    /// AVX and SSE3..SSE4.2; AVX-512F implies AVX2, FMA and F16C, all checked too).
    ///
    /// ```
    /// use fvae_kernels::cpu::X86Level;
    /// assert_eq!(X86Level::Avx2Fma.target_features(), "avx2,fma");
    /// ```
    pub const fn target_features(self) -> &'static str {
        match self {
            X86Level::Sse2 => "sse2",
            X86Level::Avx2Fma => "avx2,fma",
            X86Level::Avx512 => "avx512f,avx512bw,avx512vl",
            X86Level::Avx512Vnni => "avx512f,avx512bw,avx512vl,avx512vnni",
        }
    }

    /// The level's name, as `FVAE_X86_LEVEL` takes it.
    ///
    /// ```
    /// use fvae_kernels::cpu::X86Level;
    /// assert_eq!(X86Level::from_name(X86Level::Avx512.name()), Some(X86Level::Avx512));
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            X86Level::Sse2 => "sse2",
            X86Level::Avx2Fma => "avx2",
            X86Level::Avx512 => "avx512bw",
            X86Level::Avx512Vnni => "avx512",
        }
    }

    /// The level named `name` ([`X86Level::name`]; `avx512vnni` is also taken for the top one).
    ///
    /// ```
    /// use fvae_kernels::cpu::X86Level;
    /// assert_eq!(X86Level::from_name("avx2"), Some(X86Level::Avx2Fma));
    /// assert_eq!(X86Level::from_name("avx"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<X86Level> {
        match name {
            "avx512vnni" => Some(X86Level::Avx512Vnni),
            _ => X86Level::ALL.into_iter().find(|l| l.name() == name),
        }
    }

    fn from_u8(v: u8) -> Option<X86Level> {
        X86Level::ALL.into_iter().find(|&l| l as u8 == v)
    }
}

/// The crate's one cache: 0 until detected, then the (possibly capped) `X86Level as u8`.
#[cfg(target_arch = "x86_64")]
static X86_LEVEL: AtomicU8 = AtomicU8::new(0);

/// The x86_64 level the kernels run: the best this CPU and OS support, detected at the first
/// call (one relaxed atomic load after that), capped by `FVAE_X86_LEVEL` (with `std`) and
/// [`cap_x86_level`].
///
/// ```
/// # #[cfg(target_arch = "x86_64")] {
/// use fvae_kernels::cpu::{x86_level, X86Level};
/// assert!(x86_level() >= X86Level::Sse2);
/// # }
/// ```
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn x86_level() -> X86Level {
    match X86Level::from_u8(X86_LEVEL.load(Ordering::Relaxed)) {
        Some(level) => level,
        None => init_x86_level(),
    }
}

#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
fn init_x86_level() -> X86Level {
    let found = detected_x86_level();
    // FVAE_X86_LEVEL caps the level (an unknown value caps nothing).
    #[cfg(feature = "std")]
    let found = match std::env::var("FVAE_X86_LEVEL").ok().as_deref().and_then(X86Level::from_name) {
        Some(cap) => found.min(cap),
        None => found,
    };
    // The first thread to finish wins, so a cap stored meanwhile by `cap_x86_level` stays.
    match X86_LEVEL.compare_exchange(0, found as u8, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => found,
        Err(current) => X86Level::from_u8(current).unwrap_or(found),
    }
}

/// Caps the level the kernels run at `max` from now on (a cap never raises it), and returns the
/// level in force. This is how a `no_std` program (or the C library) compares paths on one
/// machine; `std` programs can also set `FVAE_X86_LEVEL`. Every path computes what the scalar
/// reference states, so changing the level between calls is sound.
///
/// ```
/// use fvae_kernels::cpu::{cap_x86_level, x86_level, X86Level};
/// assert_eq!(cap_x86_level(X86Level::Sse2), X86Level::Sse2);
/// assert_eq!(x86_level(), X86Level::Sse2);
/// ```
#[cfg(target_arch = "x86_64")]
pub fn cap_x86_level(max: X86Level) -> X86Level {
    let now = x86_level().min(max);
    X86_LEVEL.fetch_min(now as u8, Ordering::Relaxed);
    x86_level()
}

/// The best level this CPU and operating system support, asked afresh (no cache, no cap).
///
/// ```
/// # #[cfg(target_arch = "x86_64")]
/// assert!(fvae_kernels::cpu::detected_x86_level() >= fvae_kernels::cpu::x86_level());
/// ```
#[cfg(target_arch = "x86_64")]
pub fn detected_x86_level() -> X86Level {
    // SGX enclaves may not execute `cpuid`: they get what the build enables. Miri cannot run
    // `cpuid` either; it interprets the SSE2 paths.
    #[cfg(target_env = "sgx")]
    return built_x86_level();
    #[cfg(miri)]
    return X86Level::Sse2;
    #[cfg(not(any(target_env = "sgx", miri)))]
    x86_detect::level()
}

/// The level the build's target features (`-C target-cpu`, `-C target-feature`) guarantee.
#[cfg(all(target_arch = "x86_64", target_env = "sgx"))]
fn built_x86_level() -> X86Level {
    if cfg!(all(
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vl",
        target_feature = "avx512vnni"
    )) {
        X86Level::Avx512Vnni
    } else if cfg!(all(target_feature = "avx512f", target_feature = "avx512bw", target_feature = "avx512vl")) {
        X86Level::Avx512
    } else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        X86Level::Avx2Fma
    } else {
        X86Level::Sse2
    }
}

/// `cpuid` and `xgetbv`, the bits as the Intel SDM (vol. 2A, CPUID) and AMD APM number them.
#[cfg(all(target_arch = "x86_64", not(any(target_env = "sgx", miri))))]
mod x86_detect {
    use super::X86Level;
    use core::arch::x86_64::{__cpuid_count, _xgetbv, CpuidResult};

    // Leaf 1, ECX.
    const SSE3: u32 = 1 << 0;
    const SSSE3: u32 = 1 << 9;
    const FMA: u32 = 1 << 12;
    const SSE4_1: u32 = 1 << 19;
    const SSE4_2: u32 = 1 << 20;
    const XSAVE: u32 = 1 << 26;
    const OSXSAVE: u32 = 1 << 27;
    const AVX: u32 = 1 << 28;
    const F16C: u32 = 1 << 29;
    // Leaf 7 sub-leaf 0, EBX.
    const AVX2: u32 = 1 << 5;
    const AVX512F: u32 = 1 << 16;
    const AVX512BW: u32 = 1 << 30;
    const AVX512VL: u32 = 1 << 31;
    // Leaf 7 sub-leaf 0, ECX.
    const AVX512VNNI: u32 = 1 << 11;
    // XCR0: the register state the OS saves on a context switch.
    const XCR0_SSE_AVX: u64 = 0b110; // XMM, upper halves of YMM
    const XCR0_AVX512: u64 = 0b1110_0000; // opmask, upper halves of ZMM0-15, ZMM16-31

    fn cpuid(leaf: u32) -> CpuidResult {
        // SAFETY: every x86_64 CPU has `cpuid` (SGX, where it faults, is excluded above).
        #[allow(unused_unsafe)]
        unsafe {
            __cpuid_count(leaf, 0)
        }
    }

    /// XCR0.
    ///
    /// # Safety
    /// The CPU has XSAVE and the OS enabled it (CPUID.1:ECX XSAVE and OSXSAVE).
    #[target_feature(enable = "xsave")]
    unsafe fn xcr0() -> u64 {
        // SAFETY: the caller checked XSAVE and OSXSAVE.
        unsafe { _xgetbv(0) }
    }

    pub(super) fn level() -> X86Level {
        let max_leaf = cpuid(0).eax;
        let ecx1 = cpuid(1).ecx;
        let has = |bits: u32, all: u32| bits & all == all;
        if max_leaf < 7 || !has(ecx1, XSAVE | OSXSAVE) {
            return X86Level::Sse2;
        }
        // SAFETY: XSAVE and OSXSAVE checked just above.
        let xcr0 = unsafe { xcr0() };
        let leaf7 = cpuid(7);
        let avx2 = has(ecx1, SSE3 | SSSE3 | SSE4_1 | SSE4_2 | AVX | FMA)
            && has(leaf7.ebx, AVX2)
            && xcr0 & XCR0_SSE_AVX == XCR0_SSE_AVX;
        let avx512 = avx2
            && has(ecx1, F16C)
            && has(leaf7.ebx, AVX512F | AVX512BW | AVX512VL)
            && xcr0 & XCR0_AVX512 == XCR0_AVX512;
        match (avx2, avx512, has(leaf7.ecx, AVX512VNNI)) {
            (_, true, true) => X86Level::Avx512Vnni,
            (_, true, false) => X86Level::Avx512,
            (true, false, _) => X86Level::Avx2Fma,
            (false, false, _) => X86Level::Sse2,
        }
    }
}

/// Whether the AVX-512 VNNI int8 paths (VQ distances, dot products, the screening pass) run here:
/// [`x86_level`] is [`X86Level::Avx512Vnni`].
///
/// ```
/// # #[cfg(target_arch = "x86_64")]
/// let _ = fvae_kernels::cpu::has_avx512_vnni();
/// ```
#[cfg(target_arch = "x86_64")]
pub fn has_avx512_vnni() -> bool {
    x86_level() >= X86Level::Avx512Vnni
}

/// The name of the path the float kernels take on this machine, for logs and benchmarks.
///
/// ```
/// let name = fvae_kernels::cpu::float_path_name();
/// assert!(["scalar", "sse2", "avx2+fma", "avx512f", "neon", "simd128"].contains(&name));
/// ```
pub fn float_path_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        match x86_level() {
            X86Level::Sse2 => "sse2",
            X86Level::Avx2Fma => "avx2+fma",
            X86Level::Avx512 | X86Level::Avx512Vnni => "avx512f",
        }
    }
    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    {
        "neon"
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        "simd128"
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        "scalar"
    }
}
