"""fvae's Python package against the libraries Python users run for the same jobs.

One process, one thread (BLAS/OpenMP pinned to 1 before numpy loads; threads=1 for fvae;
faiss.omp_set_num_threads(1); LiteRT num_threads=1), except the last case, which is about
scaling out: a Dask fit on a 2-worker LocalCluster against scikit-learn on this machine.
Each figure is the best of `--repeat` runs; A/B pairs run interleaved, so machine load hits
both sides alike. Prints the CPU model and the load average, then a markdown table.

Cases (the "kind" column):
- Fisher vectors: easy = benches/fv_vs_skimage.py's random diagonal mixtures with components far
  apart (D=64 K=256, D=128 K=64, N=50 000); realistic = its PCA'd 8x8 patches of scikit-learn's
  sample images with a GMM fitted by scikit-learn's EM (D=64 K=256, D=32 K=64, N=20 000).
  scikit-image gets float64 rows (its float64 vector is the reference of the error column).
- Codebook search: random codebook and queries (easy), and a k-means codebook (fvae.kmeans) on
  real patch descriptors queried with other patches (realistic), at D=16 M=256 and D=64 M=512.
- Networks: the fixture models (tests/data/tflite) and Keras-converted ones (tests/data/real).
- Dask: 10^7 descriptors generated block by block on the workers (the client never holds them),
  fvae.dask.fit_gmm on a 2-worker LocalCluster against scikit-learn's GaussianMixture.fit on the
  same rows, both from the same start (fvae's k-means start), a fixed number of EM iterations.

    python benches/python_vs_peers.py [--quick] [--dask-rows 10000000] [--skip-dask | --dask-only]

Needs: fvae (pip install ./python), numpy, scikit-learn, scikit-image, faiss-cpu, tflite-micro,
ai-edge-litert (LiteRT, optional), dask[distributed].
"""

import os

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[v] = "1"

import argparse  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import fvae  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data"
sys.path.insert(0, str(HERE))
import fv_vs_skimage  # noqa: E402  (its data builders: the README's FV cases)


def cpu_model():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine()


def load():
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


def ab(fa, fb, repeat):
    """Best times of fa and fb over `repeat` interleaved runs, and fa's and fb's last results."""
    ta, tb = [], []
    for _ in range(repeat):
        s = time.perf_counter()
        ra = fa()
        ta.append(time.perf_counter() - s)
        s = time.perf_counter()
        rb = fb()
        tb.append(time.perf_counter() - s)
    return min(ta), min(tb), ra, rb


def rel_l2(a, want):
    a, want = np.asarray(a, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(a - want) / np.linalg.norm(want))


def fisher_cases(repeat, n_easy, n_real):
    from skimage.feature import fisher_vector as sk_fv

    cases = [("easy", d, k, n_easy, fv_vs_skimage.make_case) for d, k in ((64, 256), (128, 64))]
    cases += [("realistic", d, k, n_real, fv_vs_skimage.make_realistic) for d, k in ((64, 256), (32, 64))]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for kind, d, k, n, make in cases:
            _, _, x, gm = make(d, k, n, seed=d * 1000 + k, work=work)
            x64 = x.astype(np.float64)
            tp, tf, want, got = ab(
                lambda: sk_fv(x64, gm, improved=True),
                lambda: fvae.fisher_vector(x, gm, improved=True, threads=1),
                repeat,
            )
            case = f"`fisher_vector(improved=True)`, D={d} K={k} N={n}"
            rows.append((case, kind, "scikit-image", tp, tf, ">= 10x", f"rel. L2 {rel_l2(got, want):.1e}"))
    return rows


def search_cases(repeat, n_queries):
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    for d, m in ((16, 256), (64, 512)):
        real = fv_vs_skimage.patch_descriptors(d, 2 * n_queries, seed=d)
        codebooks = [
            ("easy", rng.normal(size=(m, d)).astype(np.float32), rng.normal(size=(n_queries, d)).astype(np.float32)),
            ("realistic", fvae.kmeans(real[n_queries:], m, seed=0).codewords, real[:n_queries]),
        ]
        for kind, c, x in codebooks:
            index = faiss.IndexFlatL2(d)
            index.add(c)
            cb = fvae.Codebook(c)
            for k in (1, 4):
                tp, tf, (dp, ip), (df, i_f) = ab(lambda: index.search(x, k), lambda: cb.search(x, k=k, threads=1), repeat)
                same = float(np.mean(ip == i_f))
                case = f"`Codebook.search`, D={d} M={m} k={k}, {n_queries} queries"
                rows.append((case, kind, "faiss `IndexFlatL2`", tp, tf, ">= 1x", f"{same:.2%} same indices"))
    return rows


def network_models():
    """(path, input arrays, kind): the fixture networks and a few converted by TensorFlow."""
    for name in ("mlp_decoder", "conv_decoder", "mlp_encoder"):
        yield DATA / "tflite" / f"{name}.tflite", [np.load(DATA / "tflite" / f"{name}_input.npy")], "fixture"
    for name in ("mlp_decoder_relu_b1", "conv_decoder_b1", "conv_encoder_b1", "vq_decoder_residual_b1", "cvae_decoder_b1"):
        path = DATA / "real" / f"{name}.tflite"
        inputs, i = [], 0
        while (DATA / "real" / f"{name}_in{i}.npy").exists():
            inputs.append(np.load(DATA / "real" / f"{name}_in{i}.npy"))
            i += 1
        yield path, inputs, "Keras-converted"


def network_cases(repeat, n):
    from tflite_micro.python.tflite_micro import runtime

    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT
    except ImportError:
        LiteRT = None
    rows = []
    for path, inputs, kind in network_models():
        model = path.read_bytes()
        xs = [x[np.arange(n) % len(x)] for x in inputs]
        net = fvae.Network(model)
        shapes = [i["shape"] for i in net.inputs]
        n_out = len(net.outputs)
        tflm = runtime.Interpreter.from_bytes(model)

        def run_tflm():
            out = [[] for _ in range(n_out)]
            for r in range(n):
                for j, x in enumerate(xs):
                    tflm.set_input(x[r].reshape(shapes[j]), j)
                tflm.invoke()
                for j in range(n_out):
                    out[j].append(tflm.get_output(j).copy())
            return out

        def run_fvae():
            return net.run(xs if len(xs) > 1 else xs[0], threads=1)

        tp, tf, want, got = ab(run_tflm, run_fvae, repeat)
        exact = all(np.array_equal(np.stack(w).reshape(n, -1), g.reshape(n, -1)) for w, g in zip(want, got))
        case = f"`Network.run` {path.stem}, per inference ({n} rows)"
        rows.append((case, kind, "TFLite Micro (Python)", tp / n, tf / n, "", "bit-exact" if exact else "DIFFERENT"))
        if LiteRT is not None:
            lr = LiteRT(model_content=model, num_threads=1)
            lr.allocate_tensors()
            by_name = {i["name"]: i["index"] for i in lr.get_input_details()}  # LiteRT's own input order
            ins = [by_name[i["name"]] for i in net.inputs]
            outs = [o["index"] for o in lr.get_output_details()]

            def run_litert():
                for r in range(n):
                    for j, x in enumerate(xs):
                        lr.set_tensor(ins[j], x[r].reshape(shapes[j]))
                    lr.invoke()
                    for o in outs:
                        lr.get_tensor(o)

            tp, tf, _, _ = ab(run_litert, run_fvae, repeat)
            rows.append((case, kind, "LiteRT (XNNPACK, 1 thread)", tp / n, tf / n, "", ""))
    return rows


def synthetic_block(i, rows, d, k, seed):
    """Block i of the Dask case's descriptors: a mixture of k unit-variance Gaussians (float32)."""
    centers = np.random.default_rng(seed).normal(scale=2.0, size=(k, d))
    rng = np.random.default_rng([seed, i])
    return (centers[rng.integers(0, k, rows)] + rng.normal(size=(rows, d))).astype(np.float32)


def mean_log_likelihood(gmm, x):
    """Mean log-likelihood per row under gmm (fvae's, float64 sum), in pieces."""
    return float(sum(gmm.score_samples(x[i : i + 1_000_000]).astype(np.float64).sum() for i in range(0, len(x), 1_000_000)) / len(x))


def dask_case(n_rows, k, d, iters, init_rows=1_000_000):
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster, wait
    from sklearn.mixture import GaussianMixture

    import fvae.dask

    chunk, seed = 250_000, 3
    sizes = [min(chunk, n_rows - s) for s in range(0, n_rows, chunk)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster):
        parts = [da.from_delayed(dask.delayed(synthetic_block)(i, r, d, k, seed), (r, d), np.float32) for i, r in enumerate(sizes)]
        x = da.concatenate(parts).persist()  # generated on the workers
        wait(x)
        s = time.perf_counter()
        start = x[:: -(-n_rows // init_rows)].compute() if n_rows > init_rows else x.compute()
        g0 = fvae._fvae._initial_gmm(start, k, seed=0)  # fvae.dask.fit_gmm's own start
        t_init = time.perf_counter() - s
        del start
        s = time.perf_counter()
        g = fvae.dask.fit_gmm(x, k, seed=0, max_iter=iters, tol=0.0, init_rows=init_rows)
        t_dask = time.perf_counter() - s
    # scikit-learn on one machine holds the same rows (made here by the same function).
    local = np.concatenate([synthetic_block(i, r, d, k, seed) for i, r in enumerate(sizes)])
    gm = GaussianMixture(
        k, covariance_type="diag", max_iter=iters, tol=0.0, init_params="random_from_data", random_state=0,
        weights_init=g0.weights.astype(np.float64), means_init=g0.means.astype(np.float64),
        precisions_init=1.0 / g0.covariances.astype(np.float64),
    )
    # One BLAS thread, as everywhere here: two threads ran 3-7x slower than one on the shared
    # 2-core machine this was written on.
    s = time.perf_counter()
    gm.fit(local)
    t_sk = time.perf_counter() - s
    ll_f, ll_s = mean_log_likelihood(g, local), mean_log_likelihood(fvae.DiagGMM.from_sklearn(gm), local)
    case = (f"GMM fit, {n_rows:,} rows D={d} K={k}, {iters} EM iterations from the same k-means start "
            f"(fvae's time includes that start: {t_init:.1f} s)")
    return [(case, "synthetic mixture", "scikit-learn `GaussianMixture.fit`, one process", t_sk, t_dask, "",
             f"mean log-likelihood fvae {ll_f:.5f}, scikit-learn {ll_s:.5f}")]


def fmt(t):
    unit, scale = ("us", 1e6) if t < 1e-3 else ("ms", 1e3) if t < 10 else ("s", 1)
    return f"{t * scale:.2f} {unit}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="fewer repeats and rows, a small Dask case")
    p.add_argument("--dask-rows", type=int, default=10_000_000)
    p.add_argument("--dask-k", type=int, default=16)
    p.add_argument("--dask-d", type=int, default=32)
    p.add_argument("--dask-iters", type=int, default=5)
    p.add_argument("--skip-dask", action="store_true")
    p.add_argument("--dask-only", action="store_true", help="only the Dask case (it takes minutes)")
    a = p.parse_args()
    repeat = 2 if a.quick else a.repeat
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average {load()}; numpy {np.__version__}")
    print("| case | kind | peer | peer | fvae | speed-up | target | agreement |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- | --- |", flush=True)
    groups = [] if a.dask_only else [
        lambda: fisher_cases(repeat, 5_000 if a.quick else 50_000, 5_000 if a.quick else 20_000),
        lambda: search_cases(repeat, 2_000 if a.quick else 20_000),
        lambda: network_cases(repeat, 500 if a.quick else 5_000),
    ]
    if not a.skip_dask:
        rows = 200_000 if a.quick else a.dask_rows
        groups.append(lambda: dask_case(rows, a.dask_k, a.dask_d, a.dask_iters))
    for group in groups:  # printed as measured: the Dask case takes minutes
        for case, kind, peer, tp, tf, target, agreement in group():
            print(f"| {case} | {kind} | {peer} | {fmt(tp)} | {fmt(tf)} | {tp / tf:.1f}x | {target} | {agreement} |", flush=True)
        print(f"(load average {load()})", flush=True)


if __name__ == "__main__":
    main()
