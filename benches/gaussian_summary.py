"""Summarises the criterion results of `cargo bench --bench gaussian` as a markdown table of
descriptors per second: the median over samples, and the best sample (the least disturbed by
other processes on a shared machine; the median is the figure to quote on a quiet one).

usage: python3 benches/gaussian_summary.py [target/criterion]
"""
import json, os, statistics, sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
rows = []
for dirpath, _, files in os.walk(root):
    if os.path.basename(dirpath) != "new" or "sample.json" not in files:
        continue
    with open(os.path.join(dirpath, "benchmark.json")) as f:
        bench = json.load(f)
    if not bench["group_id"].split("/")[0] in ("sq_mahalanobis", "softmax", "accumulate", "accumulate_compensated", "fv_push"):
        continue
    with open(os.path.join(dirpath, "sample.json")) as f:
        s = json.load(f)
    per_iter = [t / n for t, n in zip(s["times"], s["iters"])]  # ns per descriptor
    rows.append((bench["full_id"], 1e9 / statistics.median(per_iter), 1e9 / min(per_iter)))
print("| benchmark | median desc/s | best sample desc/s |")
print("| --- | ---: | ---: |")
for name, med, best in sorted(rows):
    print(f"| {name} | {med:,.0f} | {best:,.0f} |")
