"""fvae's Python package against the libraries Python users run for the same jobs.

One process, one thread (BLAS/OpenMP pinned to 1 before numpy loads; threads=1 for fvae;
faiss.omp_set_num_threads(1); LiteRT num_threads=1), except the last case, which is about
scaling out: a Dask fit on a 2-worker LocalCluster against scikit-learn on this machine.
Each figure is the best of `--repeat` runs; A/B pairs run interleaved, so machine load hits
both sides alike.

    python benches/python_vs_peers.py [--quick] [--dask-rows 10000000]

Needs: fvae (pip install ./python), numpy, scikit-learn, scikit-image, faiss-cpu, tflite-micro,
ai-edge-litert (LiteRT, optional), dask[distributed].
"""

import os

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[v] = "1"

import argparse  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import fvae  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data"


def best(f, repeat):
    t = []
    for _ in range(repeat):
        s = time.perf_counter()
        f()
        t.append(time.perf_counter() - s)
    return min(t)


def ab(fa, fb, repeat):
    """Best times of fa and fb, interleaved."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(best(fa, 1))
        tb.append(best(fb, 1))
    return min(ta), min(tb)


def sk_gmm(g):
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(g.n_components, covariance_type="diag")
    gm.weights_, gm.means_, gm.covariances_ = (a.astype(np.float64) for a in (g.weights, g.means, g.covariances))
    gm.precisions_cholesky_ = 1 / np.sqrt(gm.covariances_)
    return gm


def fisher_cases(repeat):
    from skimage.feature import fisher_vector as sk_fv
    from sklearn.mixture import GaussianMixture

    rows = []
    for case in ("digits_k16", "china_patches_k32"):
        g = fvae.DiagGMM.load(DATA / "gmm" / case / "gmm.safetensors")
        x = np.load(DATA / "gmm" / case / "x.npy")
        x64 = x.astype(np.float64)
        fitted = GaussianMixture(g.n_components, covariance_type="diag", random_state=0, max_iter=30).fit(x64)
        for label, gm in ((f"{case} (fixture GMM)", sk_gmm(g)), (f"{case} (GMM fitted by scikit-learn)", fitted)):
            a, b = ab(lambda: sk_fv(x64, gm, improved=True), lambda: fvae.fisher_vector(x, gm, improved=True, threads=1), repeat)
            n, k, d = len(x), g.n_components, g.n_features
            rows.append((f"Fisher vector, improved, {label}: N={n} K={k} D={d}", "scikit-image", a, b))
    return rows


def search_cases(repeat):
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    for d, m in ((16, 256), (64, 512)):
        c = rng.normal(size=(m, d)).astype(np.float32)
        x = rng.normal(size=(20000, d)).astype(np.float32)
        index = faiss.IndexFlatL2(d)
        index.add(c)
        cb = fvae.Codebook(c)
        for k in (1, 4):
            a, b = ab(lambda: index.search(x, k), lambda: cb.search(x, k=k, threads=1), repeat)
            rows.append((f"nearest-codeword search, D={d} M={m} k={k}, 20 000 queries", "faiss IndexFlatL2", a, b))
    return rows


def network_cases(repeat, n):
    from tflite_micro.python.tflite_micro import runtime

    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT
    except ImportError:
        LiteRT = None
    rows = []
    for name in ("mlp_decoder", "conv_decoder", "mlp_encoder"):
        path = DATA / "tflite" / f"{name}.tflite"
        model = path.read_bytes()
        x = np.load(DATA / "tflite" / f"{name}_input.npy")
        xs = x[np.arange(n) % len(x)]
        net = fvae.Network(model)
        tflm = runtime.Interpreter.from_bytes(model)
        shape = net.inputs[0]["shape"]

        def run_tflm():
            for r in xs:
                tflm.set_input(r.reshape(shape), 0)
                tflm.invoke()
                tflm.get_output(0)

        a, b = ab(run_tflm, lambda: net.run(xs, threads=1), repeat)
        rows.append((f"int8 network {name}, per inference ({n} rows)", "TFLite Micro (Python)", a / n, b / n))
        if LiteRT is not None:
            lr = LiteRT(model_content=model, num_threads=1)
            lr.allocate_tensors()
            i, o = lr.get_input_details()[0]["index"], lr.get_output_details()[0]["index"]

            def run_litert():
                for r in xs:
                    lr.set_tensor(i, r.reshape(shape))
                    lr.invoke()
                    lr.get_tensor(o)

            a, b = ab(run_litert, lambda: net.run(xs, threads=1), repeat)
            rows.append((f"int8 network {name}, per inference ({n} rows)", "LiteRT (1 thread)", a / n, b / n))
    return rows


def dask_case(n_rows, k, d, iters):
    import dask.array as da
    from dask.distributed import Client, LocalCluster
    from sklearn.mixture import GaussianMixture

    import fvae.dask

    rng = np.random.default_rng(1)
    centers = rng.normal(scale=4, size=(k, d)).astype(np.float32)
    chunk = 500_000
    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster):
        rs = da.random.RandomState(2)
        labels = rs.randint(0, k, size=n_rows, chunks=chunk)
        x = (rs.normal(size=(n_rows, d), chunks=(chunk, d)) + da.from_array(centers)[labels]).astype(np.float32).persist()
        s = time.perf_counter()
        g = fvae.dask.fit_gmm(x, k, max_iter=iters, tol=0.0)
        t_dask = time.perf_counter() - s
        local = x.compute()
    del x
    local64 = local.astype(np.float64)
    s = time.perf_counter()
    gm = GaussianMixture(k, covariance_type="diag", max_iter=iters, tol=0.0, random_state=0).fit(local64)
    t_sk = time.perf_counter() - s
    ll_f, ll_s = float(g.score_samples(local[:200_000]).mean()), float(gm.score(local64[:200_000]))
    label = f"GMM fit (EM, {iters} iterations + k-means start), {n_rows:,} rows, K={k} D={d}; ll/row fvae {ll_f:.3f}, sklearn {ll_s:.3f}"
    rows.append((label, "scikit-learn GaussianMixture.fit (1 process)", t_sk, t_dask))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="fewer repeats, a small Dask case")
    p.add_argument("--dask-rows", type=int, default=10_000_000)
    p.add_argument("--skip-dask", action="store_true")
    a = p.parse_args()
    repeat = 2 if a.quick else a.repeat
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; numpy {np.__version__}")
    print("| case | peer | peer | fvae | speed-up |")
    print("| --- | --- | ---: | ---: | ---: |", flush=True)
    groups = [lambda: fisher_cases(repeat), lambda: search_cases(repeat)]
    groups.append(lambda: network_cases(repeat, 2000 if a.quick else 20000))
    if not a.skip_dask:
        groups.append(lambda: dask_case(200_000 if a.quick else a.dask_rows, 16, 16, 10))
    for group in groups:  # printed as measured: the Dask case takes minutes
        for case, peer, tp, tf in group():
            unit, scale = ("us", 1e6) if tp < 1e-3 else ("ms", 1e3) if tp < 10 else ("s", 1)
            print(f"| {case} | {peer} | {tp * scale:.2f} {unit} | {tf * scale:.2f} {unit} | {tp / tf:.1f}x |", flush=True)

if __name__ == "__main__":
    main()
