#!/usr/bin/env bash
# Builds libfvae.a for the host and for Cortex-M4F, checks the header (fresh, C99 and C++ clean, only
# fvae_ names), and runs capi/tests/test_*.c on the host (gcc) and on QEMU mps2-an386.
# Prints what ran where and a final "N passed, M failed" line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
out=target/capi
mkdir -p "$out/host" "$out/m4f"
passed=0
failed=0
step() { # step NAME COMMAND...: runs a step, counts it, shows its output on failure
    local name=$1 log
    shift
    if log=$("$@" 2>&1); then
        passed=$((passed + 1))
        echo "PASS  $name"
        [ -n "${VERBOSE:-}" ] && printf '%s\n' "$log"
    else
        failed=$((failed + 1))
        echo "FAIL  $name"
        printf '%s\n' "$log" | tail -40 | sed 's/^/      /'
    fi
    return 0
}

build_lib() { # build_lib TARGET_DIR [--target T]: builds the staticlib and installs it as libfvae.a
    local dest=$1
    shift
    cargo build -q -p fvae-capi --release "$@" || return 1
    local lib=target/${2:+$2/}release/libfvae_capi.a
    cp "$lib" "$dest/libfvae.a"
}

header_fresh() { # build.rs regenerated include/fvae.h: it must equal the committed one
    if git rev-parse --git-dir >/dev/null 2>&1; then
        git diff --exit-code -- capi/include/fvae.h || {
            echo "capi/include/fvae.h is stale: commit the regenerated header"
            return 1
        }
    fi
}

header_c99() {
    printf '#include "fvae.h"\nint main(void) { return fvae_status_message(FVAE_OK) == 0; }\n' >"$out/header.c"
    gcc -std=c99 -Wall -Wextra -Werror -pedantic -Icapi/include -fsyntax-only "$out/header.c"
}

header_cxx() {
    g++ -std=c++11 -Wall -Wextra -Werror -pedantic -Icapi/include -fsyntax-only -x c++ "$out/header.c"
}

symbols_prefixed() { # every defined global with a C name starts with fvae_ (Rust-mangled _ZN/_R, reserved
    # __ (compiler-rt), LLVM-local anon./DW.ref. and std's rust_eh_personality on hosts are not C API names)
    local bad
    bad=$(nm -g --defined-only "$1" 2>/dev/null | awk 'NF==3 {print $3}' |
        grep -v -E '^(_ZN|_R|__|anon\.|DW\.ref\.|rust_eh_personality$|fvae_)' | sort -u)
    [ -z "$bad" ] || {
        echo "unprefixed symbols: $bad"
        return 1
    }
    # The header declares only fvae_ functions.
    ! grep -E '^[a-zA-Z_].*\(' capi/include/fvae.h | grep -v -E '^[a-zA-Z_0-9 *]+ \**fvae_' | grep .
}

no_malloc() { # the device library allocates nothing: no reference to malloc/free/calloc/realloc
    ! nm -u "$1" 2>/dev/null | grep -w -E 'malloc|free|calloc|realloc|__rust_alloc'
}

TESTS=(test_fisher test_vq test_nn)
host_test() { # host_test NAME: capi/tests/NAME.c built with gcc and run
    gcc -std=c99 -Wall -Wextra -Werror -pedantic -O2 -Icapi/include -Icapi/tests "capi/tests/$1.c" \
        -L"$out/host" -lfvae -lm -lpthread -ldl -o "$out/host/$1" && "$out/host/$1"
}

M4F=(-O2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
m4f_test() { # m4f_test NAME: capi/tests/NAME.c cross-built for Cortex-M4F and run under QEMU
    arm-none-eabi-gcc "${M4F[@]}" -std=gnu99 -Wall -Wextra -Werror -c capi/tests/cortex-m/startup.c \
        -o "$out/m4f/startup.o" &&
        arm-none-eabi-gcc "${M4F[@]}" -std=c99 -Wall -Wextra -Werror -pedantic -Icapi/include -Icapi/tests \
            -c "capi/tests/$1.c" -o "$out/m4f/$1.o" &&
        arm-none-eabi-gcc "${M4F[@]}" -nostartfiles -T capi/tests/cortex-m/mps2.ld "$out/m4f/startup.o" \
            "$out/m4f/$1.o" -L"$out/m4f" -lfvae -lm --specs=rdimon.specs -Wl,--gc-sections \
            -Wl,--no-warn-execstack -o "$out/m4f/$1.elf" &&
        arm-none-eabi-size "$out/m4f/$1.elf" &&
        timeout 120 qemu-system-arm -machine mps2-an386 -nographic -monitor none -serial none \
            -semihosting-config enable=on,target=native -kernel "$out/m4f/$1.elf"
}

echo "== host ($(uname -m), gcc $(gcc -dumpversion))"
step "build libfvae.a (host, release)" build_lib "$out/host"
step "header capi/include/fvae.h matches build.rs output" header_fresh
step "header compiles as C99 (gcc -std=c99 -Wall -Wextra -Werror -pedantic)" header_c99
step "header compiles as C++ (g++ -fsyntax-only -x c++ -pedantic)" header_cxx
step "host libfvae.a exports only fvae_ C names" symbols_prefixed "$out/host/libfvae.a"
for t in "${TESTS[@]}"; do
    VERBOSE=1 step "$t.c on host" host_test "$t"
done
pkgconfig_test() { # install.sh into a scratch prefix, then build the test from pkg-config's flags alone
    rm -rf "$out/prefix" && bash capi/install.sh "$PWD/$out/prefix" &&
        export PKG_CONFIG_PATH="$PWD/$out/prefix/lib/pkgconfig" &&
        gcc -std=c99 -O2 -Icapi/tests capi/tests/test_fisher.c $(pkg-config --cflags --libs fvae) -o "$out/host/t_pc" &&
        "$out/host/t_pc"
}
if command -v pkg-config >/dev/null; then
    step "install.sh + fvae.pc: test links with pkg-config --cflags --libs fvae" pkgconfig_test
else
    echo "SKIP  pkg-config install check (pkg-config not installed)"
fi

echo "== Cortex-M4F (thumbv7em-none-eabihf, arm-none-eabi-gcc, QEMU mps2-an386)"
step "build libfvae.a (thumbv7em-none-eabihf, release)" build_lib "$out/m4f" --target thumbv7em-none-eabihf
step "M4F libfvae.a exports only fvae_ C names" symbols_prefixed "$out/m4f/libfvae.a"
step "M4F libfvae.a references no allocator" no_malloc "$out/m4f/libfvae.a"
for t in "${TESTS[@]}"; do
    VERBOSE=1 step "$t.c on Cortex-M4F under qemu-system-arm" m4f_test "$t"
done

echo "capi C tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
