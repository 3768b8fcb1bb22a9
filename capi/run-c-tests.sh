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

build_lib() { # build_lib TARGET_DIR TOOL_PREFIX [--target T]: builds the staticlib, installs it as libfvae.a
    # with only fvae_* global (capi/localize-archive.sh); cargo's own archive stays as libfvae_cargo.a
    local dest=$1 pre=$2
    shift 2
    cargo build -q -p fvae-capi --release "$@" || return 1
    local lib=target/${2:+$2/}release/libfvae_capi.a
    cp "$lib" "$dest/libfvae_cargo.a" && bash capi/localize-archive.sh "$lib" "$dest/libfvae.a" "$pre"
}

# Symbols of an archive as "BIND NDX NAME" lines. readelf, not nm: binutils' nm loads the LLVMgold
# plugin some machines have in /usr/lib/bfd-plugins, which aborts on the partially linked object.
syms() { readelf -sW "$1" | awk '($5=="GLOBAL" || $5=="WEAK") {print $5, $7, $8}'; }

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

symbols_prefixed() { # the archive defines no global symbol but fvae_*, and the header declares only fvae_ functions
    local bad
    bad=$(syms "$1" | awk '$2 != "UND" {print $3}' | grep -v '^fvae_' | sort -u)
    [ -z "$bad" ] || {
        echo "globals outside fvae_: $bad"
        return 1
    }
    echo "$(syms "$1" | awk '$2 != "UND"' | sort -u | wc -l) global definitions, all fvae_ (cargo's archive:" \
        "$(syms "$(dirname "$1")/libfvae_cargo.a" | awk '$2 != "UND"' | sort -u | wc -l))"
    echo "needs from the C side: $(syms "$1" | awk '$2 == "UND" {print $3}' | sort -u | tr '\n' ' ')"
    ! grep -E '^[a-zA-Z_].*\(' capi/include/fvae.h | grep -v -E '^[a-zA-Z_0-9 *]+ \**fvae_' | grep .
}

const_handles_shared() { # a `*const` handle never becomes writable: storage::checked returns a `*const` object
    # pointer, and the crate's one const-to-mut cast is checked_mut's, which takes a `*mut` handle
    local casts
    casts=$(grep -nE 'cast_mut|as \*mut|transmute' capi/src/*.rs)
    [ "$(printf '%s\n' "$casts" | grep -c .)" = 1 ] &&
        printf '%s\n' "$casts" | grep -q '^capi/src/storage.rs:.*checked::<T>(h, magic)?.*\.cast_mut()' || {
        echo "const-to-mut casts outside storage::checked_mut:"
        printf '%s\n' "$casts"
        return 1
    }
}

no_malloc() { # the device library allocates nothing and needs nothing from C but abort
    local und
    und=$(syms "$1" | awk '$2 == "UND" {print $3}' | sort -u | tr '\n' ' ')
    [ "$und" = "abort " ] || {
        echo "undefined references: $und"
        return 1
    }
}

TESTS=(test_fisher test_vq test_nn test_vqvae test_cpu)
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
step "build libfvae.a (host, release; only fvae_ global)" build_lib "$out/host" ""
step "header capi/include/fvae.h matches build.rs output" header_fresh
step "header compiles as C99 (gcc -std=c99 -Wall -Wextra -Werror -pedantic)" header_c99
step "header compiles as C++ (g++ -fsyntax-only -x c++ -pedantic)" header_cxx
step "no *const handle becomes writable (one const-to-mut cast, in storage::checked_mut)" const_handles_shared
VERBOSE=1 step "host libfvae.a defines no global but fvae_*" symbols_prefixed "$out/host/libfvae.a"
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
step "build libfvae.a (thumbv7em-none-eabihf, release; only fvae_ global)" build_lib "$out/m4f" arm-none-eabi- \
    --target thumbv7em-none-eabihf
VERBOSE=1 step "M4F libfvae.a defines no global but fvae_*" symbols_prefixed "$out/m4f/libfvae.a"
step "M4F libfvae.a needs only abort from C (no allocator)" no_malloc "$out/m4f/libfvae.a"
for t in "${TESTS[@]}"; do
    VERBOSE=1 step "$t.c on Cortex-M4F under qemu-system-arm" m4f_test "$t"
done

echo "capi C tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
