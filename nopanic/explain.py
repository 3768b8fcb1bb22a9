"""Lists who can reach the panic handler in the linked image (scripts/nopanic.sh --explain).

Reads `objdump -d -C` output on stdin, builds the call graph from branch-with-link and tail-call
branches, walks it backwards from `rust_begin_unwind`, and prints each project function (fvae,
fvae_kernels) that directly calls into a panicking function outside the project, with the
callee and the source line objdump attributes the call to (when built with debug info)."""
import re
import subprocess
import sys
from collections import defaultdict

func_re = re.compile(r"^[0-9a-f]+ <(.+)>:$")
call_re = re.compile(r"\t(bl|b\.w|b|blx)\s+[0-9a-f]+ <([^>+]+)(\+0x[0-9a-f]+)?>")
callers = defaultdict(set)
sites = defaultdict(list)
current = None
# Conditional branches into a panic call (`bcs.w <panic stub>`): the stub's own line is often
# unattributed, the branch's is the check that fails.
branch_re = re.compile(r"^\s*([0-9a-f]+):.*\tb[a-z]*(\.w|\.n)?\s+([0-9a-f]+) <")
into = defaultdict(list)
for line in sys.stdin:
    bm = branch_re.match(line)
    if bm:
        into[bm.group(3)].append(bm.group(1))
    line = line.rstrip("\n")
    m = func_re.match(line)
    if m:
        current = m.group(1)
        continue
    m = call_re.search(line)
    if m and current and m.group(2) != current:
        callers[m.group(2)].add(current)
        sites[(current, m.group(2))].append(line.split(":")[0].strip())

# The handler is usually inlined into panic_fmt.
reach = {"rust_begin_unwind", "__rustc::rust_begin_unwind", "core::panicking::panic_fmt", "fvae_reachable_panic"}
todo = list(reach)
while todo:
    f = todo.pop()
    for c in callers.get(f, ()):
        if c not in reach:
            reach.add(c)
            todo.append(c)

ours = lambda name: name == "_start" or name.startswith(("fvae::", "fvae_kernels::", "<fvae", "fvae_nopanic::"))
image = sys.argv[1] if len(sys.argv) > 1 else None


def where(addr):
    """The source line of a call site, innermost inlined frame first (needs debug info)."""
    if not image:
        return ""
    out = subprocess.run(["arm-none-eabi-addr2line", "-e", image, "-i", addr], capture_output=True, text=True)
    # The first frames inside the project (core's slice/index.rs says nothing about the cause).
    frames = [f for f in out.stdout.split() if "/rustc/" not in f and "/.cargo/" not in f]
    lines = [f.split("/src/", 1)[-1] for f in frames[:3]]
    return " <- ".join(lines)


found = 0
for callee in sorted(reach):
    if ours(callee):
        continue
    for caller in sorted(callers.get(callee, ())):
        if ours(caller):
            found += 1
            print(f"{caller} -> {callee}")
            for addr in sites[(caller, callee)][:4]:
                print(f"    0x{addr}: {where(addr)}")
                for src in into.get(addr, [])[:4]:
                    print(f"        from 0x{src}: {where(src)}")
print(f"{found} call sites from project code into panicking functions")
