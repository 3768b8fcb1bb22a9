/* The C library runs the kernels' best paths for this CPU: on x86-64 the level libfvae reports
 * (detected with cpuid inside the library, which has no std) must be the one gcc's own
 * detection (__builtin_cpu_supports, which also checks that the OS saves the AVX and AVX-512
 * registers) gives for the same features; elsewhere the names must be known ones. main returns
 * the number of failed checks (0 = pass). */
#include <string.h>

#include "check.h"
#include "fvae.h"

static int one_of(const char *s, const char *const *names, int n) {
    int i;
    for (i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return 1;
    return 0;
}

int main(void) {
    const char *fl = fvae_float_path(), *i8 = fvae_int8_path();
    static const char *const floats[] = {"scalar", "sse2", "avx2+fma", "avx512f", "neon", "simd128"};
    static const char *const ints[] = {"scalar", "avx2", "avx512bw", "avx512vnni", "neon", "arm-dsp", "simd128"};
    CHECK(fl && one_of(fl, floats, 6), "float path %s", fl ? fl : "(null)");
    CHECK(i8 && one_of(i8, ints, 7), "int8 path %s", i8 ? i8 : "(null)");
#if defined(__x86_64__) && defined(__GNUC__)
    {
        int avx2, avx512, vnni;
        const char *want_fl, *want_i8;
        __builtin_cpu_init();
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl");
        vnni = avx512 && __builtin_cpu_supports("avx512vnni");
        want_fl = avx512 ? "avx512f" : avx2 ? "avx2+fma" : "sse2";
        want_i8 = vnni ? "avx512vnni" : avx512 ? "avx512bw" : avx2 ? "avx2" : "scalar";
        CHECK(strcmp(fl, want_fl) == 0, "float path %s, this CPU has %s", fl, want_fl);
        CHECK(strcmp(i8, want_i8) == 0, "int8 path %s, this CPU has %s", i8, want_i8);
    }
#endif
    printf("test_cpu: float path %s, int8 path %s; %d passed, %d failed\n", fl, i8, passed, failed);
    return failed == 0 ? 0 : 1;
}
