//! `fvae_float_path`, `fvae_int8_path`: which instruction-set paths the kernels run.

use core::ffi::{c_char, CStr};

/// The C string of a path name the kernels report (`"unknown"` for one this list lacks).
fn c_name(name: &str) -> &'static CStr {
    const NAMES: [&CStr; 11] = [
        c"scalar",
        c"sse2",
        c"avx2",
        c"avx2+fma",
        c"avx512f",
        c"avx512bw",
        c"avx512vnni",
        c"neon",
        c"simd128",
        c"arm-dsp",
        c"unknown",
    ];
    NAMES.into_iter().find(|c| c.to_bytes() == name.as_bytes()).unwrap_or(c"unknown")
}

/// The path the float kernels (GMM, Fisher vectors, f32 VQ) take on this machine, as a static
/// NUL-terminated string: `"sse2"`, `"avx2+fma"` or `"avx512f"` on x86-64 (the CPU is asked once,
/// with `cpuid`, at the first call of any kernel), `"neon"`, `"simd128"` or `"scalar"` elsewhere.
#[no_mangle]
pub extern "C" fn fvae_float_path() -> *const c_char {
    c_name(fvae::kernels::cpu::float_path_name()).as_ptr()
}

/// The path the int8 kernels (int8 VQ, networks) take on this machine, as a static NUL-terminated
/// string: `"scalar"`, `"avx2"`, `"avx512bw"` or `"avx512vnni"` on x86-64, `"neon"`, `"arm-dsp"`
/// (Cortex-M DSP) or `"simd128"` elsewhere.
#[no_mangle]
pub extern "C" fn fvae_int8_path() -> *const c_char {
    c_name(fvae::kernels::int8::path_name()).as_ptr()
}
