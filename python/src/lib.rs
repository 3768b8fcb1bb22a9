//! The `fvae._fvae` extension module: fvae's models and kernels over numpy arrays.
//!
//! Conventions: arrays come in as float32 (or int8) C-contiguous views without a copy when they
//! already are, converted once otherwise; every computation runs with the GIL released; batch
//! calls split rows over `threads` (default: all cores) and merge the statistics, as the command
//! line does. fvae's errors become `ValueError` (bad shapes or values) or `fvae.FormatError`
//! (bad files, a subclass of `ValueError`) with fvae's message.

use fvae::bow::{BowAccumulator, BowAssignment, BowNormalization};
use fvae::fisher::{FisherAccumulator, FisherOptions, Layout, Normalization};
use fvae::fit::{GmmFitOptions, GmmStatistics, KMeansOptions};
use fvae::formats::safetensors::SafeTensors;
use fvae::formats::tflite::TensorType;
use fvae::formats::AlignedBuf;
use fvae::fvvae::{DecoderLayer, Encoder, FvVaeAccumulator, FvVaeOptions};
use fvae::gmm::{Assignment, DiagGmm};
use fvae::nn::{Network as Net, TensorInfo};
use fvae::vlad::{VladAccumulator, VladNormalization};
use fvae::vq::{Codebook as CodebookF32, CodebookI8, ResidualVq};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use std::ops::Range;

// Module `fvae` (which re-exports it): the name pickle records, so the error crosses processes
// (a Dask worker's exception reaches the client).
create_exception!(
    fvae,
    FormatError,
    PyValueError,
    "A file fvae cannot read: malformed, or missing or mistyped tensors."
);

/// A computation's error: `ValueError` with fvae's message.
fn value_err(e: fvae::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A file's error: `FormatError` naming the file.
fn format_err(source: &str) -> impl Fn(fvae::Error) -> PyErr + '_ {
    move |e| FormatError::new_err(format!("{source}: {e}"))
}

fn threads(requested: Option<usize>) -> usize {
    match requested {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    }
}

/// `rows` split into at most `parts` contiguous ranges of near-equal size.
fn split_rows(rows: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, rows.max(1));
    (0..parts).map(|i| rows * i / parts..rows * (i + 1) / parts).collect()
}

/// Runs `work` on each part of `rows` on its own thread (one part: on this one), in order.
fn parallel<T: Send>(
    rows: usize,
    threads: usize,
    work: impl Fn(Range<usize>) -> fvae::Result<T> + Sync,
) -> fvae::Result<Vec<T>> {
    let ranges = split_rows(rows, threads);
    if ranges.len() == 1 {
        return Ok(vec![work(0..rows)?]);
    }
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = ranges.into_iter().map(|r| s.spawn(move || work(r))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(fvae::Error::Empty { what: "worker thread (panicked)" })))
            .collect()
    })
}

/// A row-major matrix view: the data and its number of columns.
struct Rows<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
}

/// `x` as an aligned C-contiguous array of `dtype` (numpy's `require`: no copy when it already
/// is; arrays unpickled from out-of-band buffers can be misaligned).
fn contiguous<'py>(x: &Bound<'py, PyAny>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    x.py().import("numpy")?.call_method1("require", (x, dtype, "CA"))
}

/// `x` [N, D] as float32 rows.
fn f32_matrix<'py>(x: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArrayDyn<'py, f32>> {
    let a: PyReadonlyArrayDyn<f32> = contiguous(x, "float32")?.extract()?;
    if a.ndim() != 2 {
        return Err(PyValueError::new_err(format!("{what} must be 2-D [N, D], got {} dimensions", a.ndim())));
    }
    Ok(a)
}

fn rows_of<'a, T: numpy::Element>(a: &'a PyReadonlyArrayDyn<'_, T>) -> PyResult<Rows<'a, T>> {
    let shape = a.shape();
    let (rows, cols) = (shape[0], shape.get(1).copied().unwrap_or(1));
    let data = a.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(Rows { data, rows, cols })
}

fn check_cols(cols: usize, want: usize, what: &str) -> PyResult<()> {
    if cols != want {
        return Err(PyValueError::new_err(format!("{what} have {cols} columns, the model has D = {want}")));
    }
    Ok(())
}

/// A flat vector as a numpy array of `shape`.
fn array<'py, T: numpy::Element>(py: Python<'py>, v: Vec<T>, shape: &[usize]) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    v.into_pyarray(py).reshape(shape.to_vec())
}

/// The error for a batch, with the row and column of a bad descriptor.
fn at_row(first_row: usize, d: usize) -> impl Fn(fvae::Error) -> fvae::Error {
    move |e| match e {
        fvae::Error::Value { what, index, reason } => fvae::Error::Value { what, index: first_row * d + index, reason },
        e => e,
    }
}

fn row_err(d: usize) -> impl Fn(fvae::Error) -> PyErr {
    move |e| match e {
        fvae::Error::Value { what: "descriptor", index, reason } => {
            PyValueError::new_err(format!("descriptor row {}, column {}: {reason}", index / d.max(1), index % d.max(1)))
        }
        e => value_err(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Diagonal GMM
// ---------------------------------------------------------------------------------------------

/// A diagonal-covariance Gaussian mixture: `weights` [K], `means` [K, D], `covariances` [K, D]
/// (variances, scikit-learn's `covariance_type="diag"` layout).
///
/// >>> gmm = fvae.DiagGMM([0.5, 0.5], [[0.0, 0.0], [4.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]])
/// >>> gmm.predict_proba([[0.0, 0.0]]).round(3)
/// array([[1., 0.]], dtype=float32)
#[pyclass(module = "fvae._fvae", name = "DiagGMM", frozen)]
#[derive(Clone)]
struct PyDiagGmm {
    k: usize,
    d: usize,
    weights: Vec<f32>,
    means: Vec<f32>,
    variances: Vec<f32>,
}

impl PyDiagGmm {
    fn new_checked(weights: Vec<f32>, means: Vec<f32>, variances: Vec<f32>, d: usize) -> fvae::Result<Self> {
        let k = weights.len();
        let mut constants = vec![0.0; DiagGmm::constants_len(k, d)];
        DiagGmm::new(&weights, &means, &variances, &mut constants)?;
        Ok(PyDiagGmm { k, d, weights, means, variances })
    }

    /// Runs `f` with a view of the model (its constants computed for the call).
    fn with<T>(&self, f: impl FnOnce(DiagGmm<'_>) -> fvae::Result<T>) -> fvae::Result<T> {
        let mut constants = vec![0.0; DiagGmm::constants_len(self.k, self.d)];
        let gmm = DiagGmm::new(&self.weights, &self.means, &self.variances, &mut constants)?;
        f(gmm)
    }

    fn from_fitted(g: fvae::fit::FittedGmm) -> fvae::Result<Self> {
        Self::new_checked(g.weights, g.means, g.variances, g.d)
    }

    /// `[N, out]` per row on threads: `f(gmm, rows, out)`.
    fn per_row<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        out_cols: usize,
        threads_: Option<usize>,
        f: impl Fn(&DiagGmm<'_>, &[f32], &mut [f32]) -> fvae::Result<()> + Sync,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let a = f32_matrix(x, "X")?;
        let x = rows_of(&a)?;
        check_cols(x.cols, self.d, "descriptors")?;
        let (d, n) = (self.d, x.rows);
        let parts = py
            .detach(|| {
                self.with(|gmm| {
                    parallel(n, threads(threads_), |r| {
                        let mut out = vec![0.0; r.len() * out_cols];
                        f(&gmm, &x.data[r.start * d..r.end * d], &mut out).map_err(at_row(r.start, d))?;
                        Ok(out)
                    })
                })
            })
            .map_err(row_err(d))?;
        array(py, parts.concat(), &[n, out_cols])
    }
}

/// Reads a `DiagGMM` from a Python object: an fvae `DiagGMM` or a fitted scikit-learn
/// `GaussianMixture(covariance_type="diag")`.
fn gmm_of(obj: &Bound<'_, PyAny>) -> PyResult<PyDiagGmm> {
    if let Ok(g) = obj.cast::<PyDiagGmm>() {
        return Ok(g.get().clone());
    }
    if obj.hasattr("means_")? {
        return from_sklearn_gmm(obj);
    }
    Err(PyTypeError::new_err("gmm must be an fvae.DiagGMM or a fitted sklearn GaussianMixture(covariance_type='diag')"))
}

fn from_sklearn_gmm(gm: &Bound<'_, PyAny>) -> PyResult<PyDiagGmm> {
    let kind: String = gm.getattr("covariance_type")?.extract()?;
    if kind != "diag" {
        return Err(PyValueError::new_err(format!(
            "GaussianMixture has covariance_type={kind:?}; fvae's mixtures are diagonal (covariance_type='diag')"
        )));
    }
    let w = vec_f32(&gm.getattr("weights_")?)?;
    let means = f32_matrix(&gm.getattr("means_")?, "means_")?;
    let m = rows_of(&means)?;
    let c = vec_f32(&gm.getattr("covariances_")?)?;
    PyDiagGmm::new_checked(w, m.data.to_vec(), c, m.cols).map_err(value_err)
}

/// Any array-like as a flat float32 vector.
fn vec_f32(x: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    let a: PyReadonlyArrayDyn<f32> = contiguous(x, "float32")?.extract()?;
    Ok(a.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?.to_vec())
}

fn read_file(path: &str) -> PyResult<AlignedBuf> {
    AlignedBuf::read(path).map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("{path}: {e}")))
}

/// `bytes`, or the contents of the file at a `str`/`os.PathLike` path.
fn bytes_or_file(obj: &Bound<'_, PyAny>) -> PyResult<(AlignedBuf, String)> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok((AlignedBuf::from_bytes(b.as_bytes()), "<bytes>".to_string()));
    }
    let path: std::path::PathBuf = obj.extract()?;
    let name = path.display().to_string();
    Ok((read_file(&name)?, name))
}

#[pymethods]
impl PyDiagGmm {
    #[new]
    fn py_new(weights: &Bound<'_, PyAny>, means: &Bound<'_, PyAny>, covariances: &Bound<'_, PyAny>) -> PyResult<Self> {
        let w = vec_f32(weights)?;
        let m = f32_matrix(means, "means")?;
        let m = rows_of(&m)?;
        let c = f32_matrix(covariances, "covariances")?;
        let c = rows_of(&c)?;
        if (c.rows, c.cols) != (m.rows, m.cols) {
            return Err(PyValueError::new_err(format!(
                "covariances are [{}, {}], means [{}, {}]: both must be [K, D]",
                c.rows, c.cols, m.rows, m.cols
            )));
        }
        Self::new_checked(w, m.data.to_vec(), c.data.to_vec(), m.cols).map_err(value_err)
    }

    /// A fitted scikit-learn `GaussianMixture(covariance_type="diag")` as a `DiagGMM`.
    #[staticmethod]
    fn from_sklearn(gm: &Bound<'_, PyAny>) -> PyResult<Self> {
        from_sklearn_gmm(gm)
    }

    /// Reads a `.safetensors` mixture (`weights` [K], `means` [K, D], `covariances` [K, D]).
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        let name = path.display().to_string();
        let buf = read_file(&name)?;
        let st = SafeTensors::parse(buf.as_bytes()).map_err(format_err(&name))?;
        let numel = |t: &'static str| st.tensor(t).map(|t| t.shape().numel().unwrap_or(0));
        let (k, kd) = (numel("weights").map_err(format_err(&name))?, numel("means").map_err(format_err(&name))?);
        let d = kd.checked_div(k).unwrap_or(0);
        let mut constants = vec![0.0; DiagGmm::constants_len(k, d)];
        let g = DiagGmm::from_safetensors(&st, &mut constants).map_err(format_err(&name))?;
        let var = st.tensor("covariances").and_then(|t| t.as_f32("covariances")).map_err(format_err(&name))?.to_vec();
        Ok(PyDiagGmm { k, d, weights: g.weights().to_vec(), means: g.means().to_vec(), variances: var })
    }

    /// Writes the mixture as `.safetensors` (the file `DiagGMM.load` and the `fvae` command read).
    fn save(&self, path: std::path::PathBuf) -> PyResult<()> {
        let g = fvae::fit::FittedGmm {
            k: self.k,
            d: self.d,
            weights: self.weights.clone(),
            means: self.means.clone(),
            variances: self.variances.clone(),
            log_likelihood: 0.0,
            iterations: 0,
            converged: true,
        };
        let mut bytes = Vec::new();
        g.write_safetensors(&mut bytes)?;
        std::fs::write(&path, bytes)
            .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("{}: {e}", path.display())))
    }

    /// Components K.
    #[getter]
    fn n_components(&self) -> usize {
        self.k
    }

    /// Dimension D.
    #[getter]
    fn n_features(&self) -> usize {
        self.d
    }

    /// `[K]` (a copy).
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        array(py, self.weights.clone(), &[self.k])
    }

    /// `[K, D]` (a copy).
    #[getter]
    fn means<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        array(py, self.means.clone(), &[self.k, self.d])
    }

    /// Diagonal variances `[K, D]` (a copy).
    #[getter]
    fn covariances<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        array(py, self.variances.clone(), &[self.k, self.d])
    }

    /// `[N, K]` component log-densities `log N(x | mu_k, diag var_k)` (no weights).
    #[pyo3(signature = (x, *, threads=None))]
    fn log_densities<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        self.per_row(py, x, self.k, threads, |g, xs, out| g.log_densities_batch(xs, out))
    }

    /// `[N, K]` posteriors (scikit-learn's `predict_proba`).
    #[pyo3(signature = (x, *, threads=None))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        self.per_row(py, x, self.k, threads, |g, xs, out| g.posteriors_batch(xs, Assignment::default(), out, None))
    }

    /// `[N]` log-likelihood of each row `log sum_k w_k N(x | k)` (scikit-learn's `score_samples`).
    #[pyo3(signature = (x, *, threads=None))]
    fn score_samples<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let k = self.k;
        let out = self.per_row(py, x, 1, threads, |g, xs, out| {
            let mut scratch = vec![0.0; k];
            for (i, (x, o)) in xs.chunks_exact(g.d().max(1)).zip(out.iter_mut()).enumerate() {
                *o = g.log_likelihood(x, &mut scratch).map_err(at_row(i, g.d()))?;
            }
            Ok(())
        })?;
        let n = out.shape()[0];
        out.reshape(vec![n])
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.weights(py)?.into_any(), self.means(py)?.into_any(), self.covariances(py)?.into_any()])
    }

    fn __repr__(&self) -> String {
        format!("DiagGMM(n_components={}, n_features={})", self.k, self.d)
    }
}

// ---------------------------------------------------------------------------------------------
// Fisher vectors
// ---------------------------------------------------------------------------------------------

fn layout_of(name: &str) -> PyResult<Layout> {
    match name {
        "skimage" => Ok(Layout::SkImage),
        "vlfeat" => Ok(Layout::VlFeat),
        _ => Err(PyValueError::new_err(format!("layout must be \"skimage\" or \"vlfeat\", got {name:?}"))),
    }
}

fn normalization(improved: bool, alpha: f32) -> PyResult<Normalization> {
    if !improved {
        return Ok(Normalization::NONE);
    }
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(PyValueError::new_err(format!("alpha must be finite and > 0, got {alpha}")));
    }
    Ok(Normalization { power: Some(alpha), l2: true })
}

fn fisher_options(threshold: Option<f32>, hard: bool, compensated: bool) -> PyResult<FisherOptions> {
    let assignment = match (hard, threshold) {
        (true, Some(_)) => return Err(PyValueError::new_err("hard=True and a threshold cannot be combined")),
        (true, None) => Assignment::Hard,
        (false, t) => {
            let t = t.unwrap_or(0.0);
            if !(t.is_finite() && t >= 0.0) {
                return Err(PyValueError::new_err(format!("threshold must be finite and >= 0, got {t}")));
            }
            Assignment::Soft { threshold: t }
        }
    };
    Ok(FisherOptions::DEFAULT.with_assignment(assignment).with_compensated(compensated))
}

/// Fisher statistics of many rows, in f64 (so pushes and merges lose nothing), and the options
/// they were accumulated with.
#[derive(Clone)]
struct FisherSums {
    count: u64,
    s0: Vec<f64>,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl FisherSums {
    fn new(k: usize, d: usize) -> Self {
        FisherSums { count: 0, s0: vec![0.0; k], s1: vec![0.0; k * d], s2: vec![0.0; k * d] }
    }

    fn add(&mut self, other: &FisherSums) {
        self.count += other.count;
        for (a, b) in [(&mut self.s0, &other.s0), (&mut self.s1, &other.s1), (&mut self.s2, &other.s2)] {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
    }

    /// The statistics of `xs` (rows of D = `gmm.d()`), on threads.
    fn of_rows(gmm: DiagGmm<'_>, options: FisherOptions, xs: &[f32], threads: usize) -> fvae::Result<Self> {
        let (k, d) = (gmm.k(), gmm.d());
        let n = xs.len() / d.max(1);
        let parts = parallel(n, threads, |r| {
            let mut storage = vec![0.0; FisherAccumulator::storage_len_with(k, d, options)];
            let mut acc = FisherAccumulator::new(gmm, options, &mut storage)?;
            acc.push_batch(&xs[r.start * d..r.end * d]).map_err(at_row(r.start, d))?;
            let count = acc.count();
            let (s0, s1, s2) = acc.statistics();
            let wide = |s: &[f32]| s.iter().map(|&v| v as f64).collect();
            Ok(FisherSums { count, s0: wide(s0), s1: wide(s1), s2: wide(s2) })
        })?;
        let mut sum = FisherSums::new(k, d);
        parts.iter().for_each(|p| sum.add(p));
        Ok(sum)
    }

    /// The Fisher vector of these statistics.
    fn finish(
        &self,
        gmm: DiagGmm<'_>,
        options: FisherOptions,
        layout: Layout,
        norm: Normalization,
    ) -> fvae::Result<Vec<f32>> {
        let (k, d) = (gmm.k(), gmm.d());
        let mut storage = vec![0.0; FisherAccumulator::storage_len_with(k, d, options)];
        let mut acc = FisherAccumulator::new(gmm, options, &mut storage)?;
        let narrow = |s: &[f64]| s.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        acc.merge_statistics(self.count, &narrow(&self.s0), &narrow(&self.s1), &narrow(&self.s2))?;
        let mut fv = vec![0.0; layout.len(k, d)];
        acc.finish(layout, norm, &mut fv)?;
        Ok(fv)
    }
}

/// The Fisher vector of all rows of `X` [N, D] under `gmm` (an fvae `DiagGMM` or a scikit-learn
/// `GaussianMixture(covariance_type="diag")`), as `skimage.feature.fisher_vector(X, gm,
/// improved=..., alpha=...)` in `layout="skimage"` (`[G_w (K), G_mu (K x D), G_sigma (K x D)]`),
/// VLFeat's `[G_mu, G_sigma]` in `layout="vlfeat"`. `improved`: signed power `alpha`, then L2.
/// `threshold`: posteriors below it count as 0 (VLFeat uses 1e-6); `hard`: one-hot posteriors.
///
/// >>> X = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
/// >>> gmm = fvae.DiagGMM([0.5, 0.5], [[0.0, 0.0], [4.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]])
/// >>> fvae.fisher_vector(X, gmm, improved=True).shape    # scikit-image's layout: 2KD + K
/// (10,)
#[pyfunction]
#[pyo3(signature = (x, gmm, *, improved=false, alpha=0.5, layout="skimage", threshold=None, hard=false, threads=None))]
#[allow(clippy::too_many_arguments)]
fn fisher_vector<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    gmm: &Bound<'py, PyAny>,
    improved: bool,
    alpha: f32,
    layout: &str,
    threshold: Option<f32>,
    hard: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let g = gmm_of(gmm)?;
    let (layout, norm, options) =
        (layout_of(layout)?, normalization(improved, alpha)?, fisher_options(threshold, hard, true)?);
    let a = f32_matrix(x, "X")?;
    let xs = rows_of(&a)?;
    check_cols(xs.cols, g.d, "descriptors")?;
    let t = self::threads(threads);
    let fv = py
        .detach(|| g.with(|gm| FisherSums::of_rows(gm, options, xs.data, t)?.finish(gm, options, layout, norm)))
        .map_err(row_err(g.d))?;
    let len = fv.len();
    array(py, fv, &[len])
}

/// One Fisher vector per array of `arrays` (each [N_i, D], one per image), in parallel over the
/// arrays; the options are `fisher_vector`'s. Returns [len(arrays), FV length].
///
/// >>> fvae.fisher_vectors([X[:40], X[40:]], gmm).shape    # X [N, 2], gmm: K = 2
/// (2, 10)
#[pyfunction]
#[pyo3(signature = (arrays, gmm, *, improved=false, alpha=0.5, layout="skimage", threshold=None, hard=false, threads=None))]
#[allow(clippy::too_many_arguments)]
fn fisher_vectors<'py>(
    py: Python<'py>,
    arrays: &Bound<'py, PyAny>,
    gmm: &Bound<'py, PyAny>,
    improved: bool,
    alpha: f32,
    layout: &str,
    threshold: Option<f32>,
    hard: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let g = gmm_of(gmm)?;
    let (layout, norm, options) =
        (layout_of(layout)?, normalization(improved, alpha)?, fisher_options(threshold, hard, true)?);
    let mut held = Vec::new();
    for (i, x) in arrays.try_iter()?.enumerate() {
        let a = f32_matrix(&x?, "each array")?;
        let cols = a.shape()[1];
        if cols != g.d {
            return Err(PyValueError::new_err(format!("array {i} has {cols} columns, the model has D = {}", g.d)));
        }
        held.push(a);
    }
    let views: Vec<&[f32]> = held
        .iter()
        .map(|a| a.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let (n, len, t) = (views.len(), layout.len(g.k, g.d), self::threads(threads));
    // Each array's result is kept apart, so an error names its array.
    let parts = py
        .detach(|| {
            g.with(|gm| {
                parallel(n, t, |r| {
                    Ok(r.map(|i| FisherSums::of_rows(gm, options, views[i], 1)?.finish(gm, options, layout, norm))
                        .collect::<Vec<_>>())
                })
            })
        })
        .map_err(value_err)?;
    let mut out = Vec::with_capacity(n * len);
    for (i, fv) in parts.into_iter().flatten().enumerate() {
        match fv {
            Ok(fv) => out.extend_from_slice(&fv),
            Err(e) => return Err(PyValueError::new_err(format!("array {i}: {}", row_err(g.d)(e)))),
        }
    }
    array(py, out, &[n, len])
}

/// A streaming Fisher-vector accumulator: push batches of rows, merge with other accumulators
/// (other threads, processes or machines: it pickles), finish into a Fisher vector at any
/// point. A rejected batch leaves it unchanged.
///
/// >>> acc = fvae.FisherAccumulator(gmm)                  # X [N, 2], gmm: K = 2
/// >>> acc.push(X[:40]); acc.push(X[40:]); acc.count
/// 100
/// >>> np.allclose(acc.finish(improved=True), fvae.fisher_vector(X, gmm, improved=True), atol=1e-6)
/// True
#[pyclass(module = "fvae._fvae", name = "FisherAccumulator")]
struct PyFisherAccumulator {
    gmm: PyDiagGmm,
    options: FisherOptions,
    sums: FisherSums,
}

#[pymethods]
impl PyFisherAccumulator {
    #[new]
    #[pyo3(signature = (gmm, compensated=true, *, threshold=None, hard=false))]
    fn py_new(gmm: &Bound<'_, PyAny>, compensated: bool, threshold: Option<f32>, hard: bool) -> PyResult<Self> {
        let gmm = gmm_of(gmm)?;
        let sums = FisherSums::new(gmm.k, gmm.d);
        Ok(PyFisherAccumulator { gmm, options: fisher_options(threshold, hard, compensated)?, sums })
    }

    /// Adds the rows of `X` [N, D].
    #[pyo3(signature = (x, *, threads=None))]
    fn push(&mut self, py: Python<'_>, x: &Bound<'_, PyAny>, threads: Option<usize>) -> PyResult<()> {
        let a = f32_matrix(x, "X")?;
        let xs = rows_of(&a)?;
        check_cols(xs.cols, self.gmm.d, "descriptors")?;
        let (g, options, t) = (&self.gmm, self.options, self::threads(threads));
        let s = py.detach(|| g.with(|gm| FisherSums::of_rows(gm, options, xs.data, t))).map_err(row_err(g.d))?;
        self.sums.add(&s);
        Ok(())
    }

    /// Adds another accumulator's rows (same K and D).
    fn merge(&mut self, other: PyRef<'_, PyFisherAccumulator>) -> PyResult<()> {
        if (other.gmm.k, other.gmm.d) != (self.gmm.k, self.gmm.d) {
            return Err(PyValueError::new_err(format!(
                "merged accumulator has K = {}, D = {}; this one K = {}, D = {}",
                other.gmm.k, other.gmm.d, self.gmm.k, self.gmm.d
            )));
        }
        let s = other.sums.clone();
        self.sums.add(&s);
        Ok(())
    }

    /// Rows pushed so far.
    #[getter]
    fn count(&self) -> u64 {
        self.sums.count
    }

    /// The raw statistics `(S0 [K], S1 [K, D], S2 [K, D])` in float64.
    fn statistics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let (k, d) = (self.gmm.k, self.gmm.d);
        PyTuple::new(
            py,
            [
                array(py, self.sums.s0.clone(), &[k])?,
                array(py, self.sums.s1.clone(), &[k, d])?,
                array(py, self.sums.s2.clone(), &[k, d])?,
            ],
        )
    }

    /// The Fisher vector of every row pushed so far (the accumulator is unchanged).
    #[pyo3(signature = (layout="skimage", improved=false, alpha=0.5))]
    fn finish<'py>(
        &self,
        py: Python<'py>,
        layout: &str,
        improved: bool,
        alpha: f32,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let (layout, norm) = (layout_of(layout)?, normalization(improved, alpha)?);
        let (g, options, sums) = (&self.gmm, self.options, &self.sums);
        let fv = py.detach(|| g.with(|gm| sums.finish(gm, options, layout, norm))).map_err(value_err)?;
        let len = fv.len();
        array(py, fv, &[len])
    }

    fn __getnewargs__<'py>(slf: PyRef<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let gmm = Bound::new(py, slf.gmm.clone())?;
        PyTuple::new(py, [gmm.into_any(), slf.options.compensated.into_pyobject(py)?.to_owned().into_any()])
    }

    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let (threshold, hard) = match self.options.assignment {
            Assignment::Hard => (None, true),
            Assignment::Soft { threshold } => (Some(threshold), false),
        };
        let s = &self.sums;
        (s.count, s.s0.clone(), s.s1.clone(), s.s2.clone(), threshold, hard).into_pyobject(py)
    }

    fn __setstate__(&mut self, state: (u64, Vec<f64>, Vec<f64>, Vec<f64>, Option<f32>, bool)) -> PyResult<()> {
        let (count, s0, s1, s2, threshold, hard) = state;
        let (k, d) = (self.gmm.k, self.gmm.d);
        if s0.len() != k || s1.len() != k * d || s2.len() != k * d {
            return Err(PyValueError::new_err("accumulator state does not match its model's K and D"));
        }
        self.options = fisher_options(threshold, hard, self.options.compensated)?;
        self.sums = FisherSums { count, s0, s1, s2 };
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("FisherAccumulator(K={}, D={}, count={})", self.gmm.k, self.gmm.d, self.sums.count)
    }
}

// ---------------------------------------------------------------------------------------------
// Vector quantisation
// ---------------------------------------------------------------------------------------------

enum CodebookData {
    F32(Vec<f32>),
    I8(Vec<i8>, f32),
}

/// A codebook `[M, D]` of float32 codewords, or int8 codewords (then queries are int8 too).
/// `search` is faiss's `IndexFlatL2.search`: exact squared distances (float32), int64 indices,
/// ties to the lowest index.
///
/// >>> cb = fvae.Codebook(np.array([[0, 0], [10, 10]], np.float32))
/// >>> cb.search(np.array([[1, 2]], np.float32))
/// (array([[5.]], dtype=float32), array([[0]]))
#[pyclass(module = "fvae._fvae", name = "Codebook", frozen)]
struct PyCodebook {
    m: usize,
    d: usize,
    data: CodebookData,
}

impl PyCodebook {
    fn f32_view(&self) -> fvae::Result<Option<CodebookF32<'_>>> {
        match &self.data {
            CodebookData::F32(c) => CodebookF32::new(c, self.d).map(Some),
            CodebookData::I8(..) => Ok(None),
        }
    }

    fn need_f32(&self, what: &str) -> PyResult<CodebookF32<'_>> {
        self.f32_view()
            .map_err(value_err)?
            .ok_or_else(|| PyValueError::new_err(format!("{what} needs a float32 codebook")))
    }
}

#[pymethods]
impl PyCodebook {
    /// `codewords` [M, D]: float32 (other float types are converted), or int8 with `scale`
    /// (real value = scale * q, default 1).
    #[new]
    #[pyo3(signature = (codewords, scale=None))]
    fn py_new(codewords: &Bound<'_, PyAny>, scale: Option<f32>) -> PyResult<Self> {
        let dtype: String = codewords.getattr("dtype").and_then(|d| d.str()?.extract()).unwrap_or_default();
        if dtype == "int8" {
            let a: PyReadonlyArrayDyn<i8> = contiguous(codewords, "int8")?.extract()?;
            if a.ndim() != 2 {
                return Err(PyValueError::new_err("codewords must be 2-D [M, D]"));
            }
            let r = rows_of(&a)?;
            let scale = scale.unwrap_or(1.0);
            CodebookI8::new(r.data, r.cols, scale).map_err(value_err)?;
            return Ok(PyCodebook { m: r.rows, d: r.cols, data: CodebookData::I8(r.data.to_vec(), scale) });
        }
        let a = f32_matrix(codewords, "codewords")?;
        let r = rows_of(&a)?;
        CodebookF32::new(r.data, r.cols).map_err(value_err)?;
        Ok(PyCodebook { m: r.rows, d: r.cols, data: CodebookData::F32(r.data.to_vec()) })
    }

    /// Reads a `.safetensors` codebook (`codebook` [M, D] f32, or int8 with `scale`).
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        let name = path.display().to_string();
        let buf = read_file(&name)?;
        let st = SafeTensors::parse(buf.as_bytes()).map_err(format_err(&name))?;
        if let Ok(cb) = CodebookF32::from_safetensors(&st) {
            return Ok(PyCodebook { m: cb.m(), d: cb.d(), data: CodebookData::F32(cb.data().to_vec()) });
        }
        let cb = CodebookI8::from_safetensors(&st).map_err(format_err(&name))?;
        Ok(PyCodebook { m: cb.m(), d: cb.d(), data: CodebookData::I8(cb.data().to_vec(), cb.scale()) })
    }

    /// Codewords M.
    #[getter]
    fn m(&self) -> usize {
        self.m
    }

    /// Dimension D.
    #[getter]
    fn d(&self) -> usize {
        self.d
    }

    /// The codewords [M, D] (a copy, float32 or int8).
    #[getter]
    fn codewords<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match &self.data {
            CodebookData::F32(c) => array(py, c.clone(), &[self.m, self.d])?.into_any(),
            CodebookData::I8(c, _) => array(py, c.clone(), &[self.m, self.d])?.into_any(),
        })
    }

    /// The int8 scale (None for a float32 codebook).
    #[getter]
    fn scale(&self) -> Option<f32> {
        match self.data {
            CodebookData::F32(_) => None,
            CodebookData::I8(_, s) => Some(s),
        }
    }

    /// The `k` nearest codewords of each query of `X` [N, D]: `(D [N, k] float32 squared
    /// distances, I [N, k] int64 indices)`, nearest first, ties to the lowest index.
    #[pyo3(signature = (x, k=1, *, threads=None))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        k: usize,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if k == 0 || k > self.m {
            return Err(PyValueError::new_err(format!("k must be in 1..={} (M), got {k}", self.m)));
        }
        let t = self::threads(threads);
        let (d, kk) = (self.d, k);
        let (n, idx, dist) = match &self.data {
            CodebookData::F32(_) => {
                let a = f32_matrix(x, "X")?;
                let xs = rows_of(&a)?;
                check_cols(xs.cols, d, "queries")?;
                let cb = self.need_f32("search")?;
                let parts = py
                    .detach(|| {
                        // The packed layout (half norms, register panels) ranks a batch several
                        // times faster; packing costs M * D, once per call.
                        let mut packed = vec![0f32; CodebookF32::packed_len(self.m, d)];
                        let cb = cb.pack(&mut packed)?;
                        parallel(xs.rows, t, |r| {
                            let (mut idx, mut dist) = (vec![0u32; r.len() * kk], vec![0f32; r.len() * kk]);
                            let mut scratch = vec![0f32; cb.batch_scratch_len()];
                            cb.top_k_batch(&xs.data[r.start * d..r.end * d], kk, &mut idx, &mut dist, &mut scratch)?;
                            Ok((idx, dist))
                        })
                    })
                    .map_err(value_err)?;
                let (i, dd): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
                (xs.rows, i.concat(), dd.concat())
            }
            CodebookData::I8(c, scale) => {
                let a: PyReadonlyArrayDyn<i8> = x.extract().map_err(|_| {
                    PyValueError::new_err("an int8 codebook searches int8 queries (quantise them with its scale)")
                })?;
                if a.ndim() != 2 {
                    return Err(PyValueError::new_err("X must be 2-D [N, D]"));
                }
                let a: PyReadonlyArrayDyn<i8> = contiguous(a.as_any(), "int8")?.extract()?;
                let xs = rows_of(&a)?;
                check_cols(xs.cols, d, "queries")?;
                let cb = CodebookI8::new(c, d, *scale).map_err(value_err)?;
                let parts = py
                    .detach(|| {
                        parallel(xs.rows, t, |r| {
                            let (mut idx, mut dist) = (vec![0u32; r.len() * kk], vec![0u32; r.len() * kk]);
                            cb.top_k_batch(&xs.data[r.start * d..r.end * d], kk, &mut idx, &mut dist)?;
                            Ok((idx, dist.into_iter().map(|v| v as f32).collect::<Vec<f32>>()))
                        })
                    })
                    .map_err(value_err)?;
                let (i, dd): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
                (xs.rows, i.concat(), dd.concat())
            }
        };
        let idx: Vec<i64> = idx.into_iter().map(i64::from).collect();
        PyTuple::new(py, [array(py, dist, &[n, k])?.into_any(), array(py, idx, &[n, k])?.into_any()])
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.codewords(py)?, self.scale().into_pyobject(py)?.into_any()])
    }

    fn __repr__(&self) -> String {
        let t = if self.scale().is_some() { "int8" } else { "float32" };
        format!("Codebook(M={}, D={}, {t})", self.m, self.d)
    }
}

/// Residual vector quantisation over S codebooks `[S, M, D]` (float32): each stage quantises
/// what the previous stages left.
///
/// >>> rvq = fvae.ResidualVQ(np.array([[[0, 0], [4, 4]], [[0, 0], [1, 1]]], np.float32))
/// >>> codes = rvq.encode(np.array([[5, 5]], np.float32)); codes
/// array([[1, 1]])
/// >>> rvq.decode(codes)
/// array([[5., 5.]], dtype=float32)
#[pyclass(module = "fvae._fvae", name = "ResidualVQ", frozen)]
struct PyResidualVq {
    s: usize,
    m: usize,
    d: usize,
    data: Vec<f32>,
}

#[pymethods]
impl PyResidualVq {
    #[new]
    fn py_new(codebooks: &Bound<'_, PyAny>) -> PyResult<Self> {
        let a: PyReadonlyArrayDyn<f32> = contiguous(codebooks, "float32")?.extract()?;
        if a.ndim() != 3 {
            return Err(PyValueError::new_err("codebooks must be 3-D [S, M, D]"));
        }
        let (s, m, d) = (a.shape()[0], a.shape()[1], a.shape()[2]);
        let data = a.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?.to_vec();
        ResidualVq::new(&data, s, d).map_err(value_err)?;
        Ok(PyResidualVq { s, m, d, data })
    }

    /// Reads a `.safetensors` file with `codebooks` [S, M, D].
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        let name = path.display().to_string();
        let buf = read_file(&name)?;
        let st = SafeTensors::parse(buf.as_bytes()).map_err(format_err(&name))?;
        let r = ResidualVq::from_safetensors(&st).map_err(format_err(&name))?;
        let mut data = Vec::with_capacity(r.stages() * r.m() * r.d());
        for i in 0..r.stages() {
            data.extend_from_slice(r.stage(i).map_err(value_err)?.data());
        }
        Ok(PyResidualVq { s: r.stages(), m: r.m(), d: r.d(), data })
    }

    /// Codes `[N, S]` (int64) of the rows of `X` [N, D].
    #[pyo3(signature = (x, *, threads=None))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<i64>>> {
        let a = f32_matrix(x, "X")?;
        let xs = rows_of(&a)?;
        check_cols(xs.cols, self.d, "rows")?;
        let (s, d, t) = (self.s, self.d, self::threads(threads));
        let parts = py
            .detach(|| {
                let r = ResidualVq::new(&self.data, s, d)?;
                parallel(xs.rows, t, |rg| {
                    let mut codes = vec![0u32; rg.len() * s];
                    let mut residual = vec![0f32; d];
                    r.encode_batch(&xs.data[rg.start * d..rg.end * d], &mut codes, &mut residual)?;
                    Ok(codes)
                })
            })
            .map_err(value_err)?;
        let codes: Vec<i64> = parts.concat().into_iter().map(i64::from).collect();
        array(py, codes, &[xs.rows, s])
    }

    /// The reconstruction `[N, D]` (float32) of codes `[N, S]`.
    fn decode<'py>(&self, py: Python<'py>, codes: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let a: PyReadonlyArrayDyn<i64> = contiguous(codes, "int64")?.extract()?;
        if a.ndim() != 2 || a.shape()[1] != self.s {
            return Err(PyValueError::new_err(format!("codes must be [N, S] with S = {}", self.s)));
        }
        let n = a.shape()[0];
        let raw = a.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut codes = Vec::with_capacity(raw.len());
        for (i, &c) in raw.iter().enumerate() {
            match u32::try_from(c) {
                Ok(c) if (c as usize) < self.m => codes.push(c),
                _ => {
                    return Err(PyValueError::new_err(format!(
                        "code at row {}, stage {} is {c}, not in 0..{}",
                        i / self.s,
                        i % self.s,
                        self.m
                    )))
                }
            }
        }
        let mut out = vec![0f32; n * self.d];
        py.detach(|| ResidualVq::new(&self.data, self.s, self.d)?.decode_batch(&codes, &mut out)).map_err(value_err)?;
        array(py, out, &[n, self.d])
    }

    /// The codebooks [S, M, D] (a copy).
    #[getter]
    fn codebooks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        array(py, self.data.clone(), &[self.s, self.m, self.d])
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.codebooks(py)?])
    }
}

// ---------------------------------------------------------------------------------------------
// int8 networks and FV-VAE
// ---------------------------------------------------------------------------------------------

fn tensor_dict<'py>(py: Python<'py>, name: String, t: &TensorInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", name)?;
    d.set_item("shape", PyTuple::new(py, t.shape())?)?;
    d.set_item("dtype", numpy_name(t.dtype))?;
    d.set_item("scale", t.scale)?;
    d.set_item("zero_point", t.zero_point)?;
    Ok(d)
}

/// numpy's name for a tensor type.
fn numpy_name(t: TensorType) -> &'static str {
    match t {
        TensorType::Float32 => "float32",
        TensorType::Int32 => "int32",
        TensorType::UInt8 => "uint8",
        TensorType::Int64 => "int64",
        TensorType::Int16 => "int16",
        TensorType::Int8 => "int8",
        TensorType::Other(_) => "other",
    }
}

/// One graph input's rows: int8 (quantised), or float32 for a float input (a model that starts
/// with QUANTIZE).
enum InputRows {
    I8(Vec<i8>),
    F32(Vec<f32>),
}

/// One graph output's rows.
enum OutputRows {
    I8(Vec<i8>),
    F32(Vec<f32>),
    /// int32 and int64 outputs (ARG_MAX and ARG_MIN indices), widened to i64.
    I64(Vec<i64>),
}

/// An int8 `.tflite` network (a path or the file's bytes), run bit-exact with TFLite Micro.
///
/// >>> net = fvae.Network("decoder.tflite")               # doctest: +SKIP
/// >>> [y] = net.run(z_int8)                              # doctest: +SKIP
#[pyclass(module = "fvae._fvae", name = "Network", frozen)]
struct PyNetwork {
    model: AlignedBuf,
    source: String,
    inputs: Vec<(String, TensorInfo)>,
    outputs: Vec<(String, TensorInfo)>,
}

fn io_list(net: &Net<'_>, outputs: bool) -> fvae::Result<Vec<(String, TensorInfo)>> {
    let graph = net.model().subgraph(0)?;
    let ids = if outputs { graph.outputs()? } else { graph.inputs()? };
    let mut list = Vec::new();
    for i in 0..ids.len() {
        let info = if outputs { net.output(i)? } else { net.input(i)? };
        let name = match ids.get(i) {
            Some(t) => String::from_utf8_lossy(graph.tensor(t)?.name()?).into_owned(),
            None => String::new(),
        };
        list.push((name, info));
    }
    Ok(list)
}

#[pymethods]
impl PyNetwork {
    #[new]
    fn py_new(model: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (buf, source) = bytes_or_file(model)?;
        let (inputs, outputs) = {
            let net = Net::new(buf.as_bytes()).map_err(format_err(&source))?;
            (io_list(&net, false).map_err(format_err(&source))?, io_list(&net, true).map_err(format_err(&source))?)
        };
        Ok(PyNetwork { model: buf, source, inputs, outputs })
    }

    /// The graph inputs: dicts of name, shape, dtype, scale and zero_point.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.inputs.iter().map(|(n, t)| tensor_dict(py, n.clone(), t)).collect::<PyResult<Vec<_>>>()?)
    }

    /// The graph outputs, as `inputs`.
    #[getter]
    fn outputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.outputs.iter().map(|(n, t)| tensor_dict(py, n.clone(), t)).collect::<PyResult<Vec<_>>>()?)
    }

    /// Runs the network on a batch: `x` (one input) or `[x0, x1, ...]`, each `[N, ...]` whose
    /// rows hold that input's elements (int8; float arrays are quantised with the input's scale
    /// and zero point, ties away from zero). Returns one array per output, `[N, ...]`, in the
    /// output's element type: int8, float32 for float outputs, int32 or int64 for index outputs
    /// (ARG_MAX, ARG_MIN).
    #[pyo3(signature = (x, *, threads=None))]
    fn run<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, threads: Option<usize>) -> PyResult<Bound<'py, PyList>> {
        let given: Vec<Bound<'py, PyAny>> = if x.is_instance_of::<PyList>() || x.is_instance_of::<PyTuple>() {
            x.try_iter()?.collect::<PyResult<_>>()?
        } else {
            vec![x.clone()]
        };
        if given.len() != self.inputs.len() {
            return Err(PyValueError::new_err(format!(
                "the network has {} inputs, {} given",
                self.inputs.len(),
                given.len()
            )));
        }
        let mut held: Vec<InputRows> = Vec::new();
        let mut n = None;
        for (i, (a, (_, info))) in given.iter().zip(&self.inputs).enumerate() {
            let is_i8 =
                a.getattr("dtype").and_then(|d| d.str()?.extract::<String>()).map(|d| d == "int8").unwrap_or(false);
            let (q, len) = if info.dtype == TensorType::Float32 {
                let f = vec_f32(a)?;
                let len = f.len();
                (InputRows::F32(f), len)
            } else if is_i8 {
                let v: PyReadonlyArrayDyn<i8> = contiguous(a, "int8")?.extract()?;
                let v = v.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?.to_vec();
                let len = v.len();
                (InputRows::I8(v), len)
            } else {
                let f = vec_f32(a)?;
                let mut q = vec![0i8; f.len()];
                fvae::vae::quantize(&f, info.scale, info.zero_point, &mut q).map_err(value_err)?;
                (InputRows::I8(q), f.len())
            };
            let rows = a.getattr("shape")?.get_item(0)?.extract::<usize>().unwrap_or(0);
            if info.len == 0 || len != rows * info.len {
                return Err(PyValueError::new_err(format!(
                    "input {i}: {len} values in {rows} rows, each row must hold the input's {} elements",
                    info.len
                )));
            }
            if n.is_some_and(|n| n != rows) {
                return Err(PyValueError::new_err(format!("input {i} has {rows} rows, input 0 {}", n.unwrap_or(0))));
            }
            n = Some(rows);
            held.push(q);
        }
        let n = n.unwrap_or(0);
        let (ins, outs) = (&self.inputs, &self.outputs);
        let t = self::threads(threads);
        let parts = py
            .detach(|| {
                let net = Net::new(self.model.as_bytes())?;
                let arena_len = net.required_arena();
                parallel(n, t, |r| {
                    let mut arena = vec![0u8; arena_len];
                    let mut it = net.interpreter(&mut arena)?;
                    let mut out: Vec<OutputRows> = outs
                        .iter()
                        .map(|(_, o)| match o.dtype {
                            TensorType::Float32 => OutputRows::F32(Vec::with_capacity(r.len() * o.len)),
                            TensorType::Int32 | TensorType::Int64 => {
                                OutputRows::I64(Vec::with_capacity(r.len() * o.len))
                            }
                            _ => OutputRows::I8(Vec::with_capacity(r.len() * o.len)),
                        })
                        .collect();
                    let (mut f, mut wide) = (Vec::new(), Vec::new());
                    for row in r {
                        for (j, (q, (_, info))) in held.iter().zip(ins).enumerate() {
                            let rows = row * info.len..(row + 1) * info.len;
                            match q {
                                InputRows::I8(q) => {
                                    it.input_i8_mut(j)?.copy_from_slice(q.get(rows).unwrap_or_default())
                                }
                                InputRows::F32(v) => it.set_input_f32(j, v.get(rows).unwrap_or_default())?,
                            }
                        }
                        it.invoke()?;
                        for (j, (o, (_, info))) in out.iter_mut().zip(outs).enumerate() {
                            match o {
                                OutputRows::I8(o) => o.extend_from_slice(it.output_i8(j)?),
                                OutputRows::F32(o) => {
                                    f.resize(info.len, 0.0);
                                    it.output_f32(j, &mut f)?;
                                    o.extend_from_slice(&f);
                                }
                                OutputRows::I64(o) => {
                                    wide.resize(info.len, 0);
                                    it.output_i64(j, &mut wide)?;
                                    o.extend_from_slice(&wide);
                                }
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .map_err(|e| PyValueError::new_err(format!("{}: {e}", self.source)))?;
        let list = PyList::empty(py);
        for (j, (_, info)) in outs.iter().enumerate() {
            let shape = info.shape();
            let mut dims = vec![n];
            dims.extend_from_slice(if shape.first() == Some(&1) { &shape[1..] } else { shape });
            if info.dtype == TensorType::Float32 {
                let v: Vec<f32> = parts
                    .iter()
                    .flat_map(|p| if let OutputRows::F32(v) = &p[j] { v.as_slice() } else { &[] })
                    .copied()
                    .collect();
                list.append(array(py, v, &dims)?)?;
            } else if matches!(info.dtype, TensorType::Int32 | TensorType::Int64) {
                let v = parts.iter().flat_map(|p| if let OutputRows::I64(v) = &p[j] { v.as_slice() } else { &[] });
                if info.dtype == TensorType::Int32 {
                    // Each value came from an i32: the narrowing is exact.
                    list.append(array(py, v.map(|&x| x as i32).collect::<Vec<i32>>(), &dims)?)?;
                } else {
                    list.append(array(py, v.copied().collect::<Vec<i64>>(), &dims)?)?;
                }
            } else {
                let v: Vec<i8> = parts
                    .iter()
                    .flat_map(|p| if let OutputRows::I8(v) = &p[j] { v.as_slice() } else { &[] })
                    .copied()
                    .collect();
                list.append(array(py, v, &dims)?)?;
            }
        }
        Ok(list)
    }

    /// Bytes of working memory an inference needs.
    #[getter]
    fn required_arena(&self) -> PyResult<usize> {
        Ok(Net::new(self.model.as_bytes()).map_err(value_err)?.required_arena())
    }

    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [PyBytes::new(py, self.model.as_bytes())])
    }
}

/// FV-VAE (Qiu et al. 2017): an int8 `.tflite` encoder and one float decoder layer
/// (`.safetensors` with `weight` [P, L], `bias` [P], `variance` [P]).
///
/// >>> vae = fvae.FvVae("encoder.tflite", "decoder_layer.safetensors")   # doctest: +SKIP
/// >>> fv = vae.fisher_vector(X, improved=True)                           # doctest: +SKIP
#[pyclass(module = "fvae._fvae", name = "FvVae", frozen)]
struct PyFvVae {
    encoder: AlignedBuf,
    layer: AlignedBuf,
    source: String,
    p: usize,
    l: usize,
}

impl PyFvVae {
    fn layer(&self) -> fvae::Result<DecoderLayer<'_>> {
        DecoderLayer::from_safetensors(&SafeTensors::parse(self.layer.as_bytes())?)
    }
}

#[pymethods]
impl PyFvVae {
    #[new]
    fn py_new(encoder: &Bound<'_, PyAny>, decoder_layer: &Bound<'_, PyAny>) -> PyResult<Self> {
        let (encoder, source) = bytes_or_file(encoder)?;
        let (layer, layer_source) = bytes_or_file(decoder_layer)?;
        let (p, l) = {
            let net = Net::new(encoder.as_bytes()).map_err(format_err(&source))?;
            let mut arena = vec![0u8; net.required_arena()];
            let mut z = vec![0f32; net.output(0).map_err(format_err(&source))?.len];
            let enc = Encoder::new(&net, &mut arena, &mut z).map_err(format_err(&source))?;
            (enc.input_len(), enc.latent_len())
        };
        let v = PyFvVae { encoder, layer, source, p, l };
        let layer = v.layer().map_err(format_err(&layer_source))?;
        if (layer.p(), layer.l()) != (p, l) {
            return Err(FormatError::new_err(format!(
                "{layer_source}: decoder layer is P = {}, L = {}; the encoder maps P = {p} to L = {l}",
                layer.p(),
                layer.l()
            )));
        }
        Ok(v)
    }

    /// The FV-VAE vector `[P (L + 1)]` of all rows of `X` [N, P]; `improved`: signed power
    /// `alpha`, then L2.
    #[pyo3(signature = (x, *, improved=false, alpha=0.5, threads=None))]
    fn fisher_vector<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        improved: bool,
        alpha: f32,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
        let norm = normalization(improved, alpha)?;
        let a = f32_matrix(x, "X")?;
        let xs = rows_of(&a)?;
        check_cols(xs.cols, self.p, "descriptors")?;
        let (p, t) = (self.p, self::threads(threads));
        let fv = py
            .detach(|| {
                let layer = self.layer()?;
                let options = FvVaeOptions::default();
                let storage_len = FvVaeAccumulator::storage_len(layer.p(), layer.l());
                let parts = parallel(xs.rows, t, |r| {
                    let net = Net::new(self.encoder.as_bytes())?;
                    let mut arena = vec![0u8; net.required_arena()];
                    let mut z = vec![0f32; net.output(0)?.len];
                    let mut enc = Encoder::new(&net, &mut arena, &mut z)?;
                    let mut storage = vec![0f32; storage_len];
                    let mut acc = FvVaeAccumulator::new(layer, options, &mut storage)?;
                    acc.push_batch(&mut enc, &xs.data[r.start * p..r.end * p]).map_err(at_row(r.start, p))?;
                    Ok((acc.count(), acc.statistics().to_vec()))
                })?;
                let mut storage = vec![0f32; storage_len];
                let mut acc = FvVaeAccumulator::new(layer, options, &mut storage)?;
                for (count, sums) in &parts {
                    acc.merge_statistics(*count, sums)?;
                }
                let mut fv = vec![0f32; layer.fv_len()];
                acc.finish(norm, &mut fv)?;
                Ok(fv)
            })
            .map_err(row_err(p))?;
        let len = fv.len();
        array(py, fv, &[len])
    }

    /// Descriptor length P and latent length L.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.p, self.l)
    }

    fn __repr__(&self) -> String {
        format!("FvVae(P={}, L={}, encoder={:?})", self.p, self.l, self.source)
    }
}

// ---------------------------------------------------------------------------------------------
// Fitting, VLAD, bag-of-words
// ---------------------------------------------------------------------------------------------

fn fit_options(
    n_components: usize,
    seed: u64,
    max_iter: usize,
    tol: f64,
    reg_covar: f32,
    threads: Option<usize>,
) -> GmmFitOptions {
    GmmFitOptions::new(n_components)
        .with_seed(seed)
        .with_max_iter(max_iter)
        .with_tol(tol)
        .with_reg_covar(reg_covar)
        .with_threads(self::threads(threads))
}

/// Fits a diagonal GMM to `X` [N, D] by EM (k-means++ initialisation under `seed`; scikit-learn's
/// `max_iter`, `tol` on the mean log-likelihood and `reg_covar`). Deterministic for a seed and a
/// thread count.
///
/// >>> fvae.fit_gmm(X, 2, seed=0).means.shape              # X [N, 2]
/// (2, 2)
#[pyfunction]
#[pyo3(signature = (x, n_components, *, seed=0, max_iter=100, tol=1e-3, reg_covar=1e-6, threads=None))]
#[allow(clippy::too_many_arguments)]
fn fit_gmm(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n_components: usize,
    seed: u64,
    max_iter: usize,
    tol: f64,
    reg_covar: f32,
    threads: Option<usize>,
) -> PyResult<PyDiagGmm> {
    let a = f32_matrix(x, "X")?;
    let xs = rows_of(&a)?;
    let options = fit_options(n_components, seed, max_iter, tol, reg_covar, threads);
    py.detach(|| fvae::fit::fit_gmm(xs.data, xs.cols, &options).and_then(PyDiagGmm::from_fitted)).map_err(value_err)
}

/// `fit_gmm`'s starting model (k-means under `seed`), for an EM whose E-step runs elsewhere.
#[pyfunction]
#[pyo3(signature = (x, n_components, *, seed=0, reg_covar=1e-6, threads=None))]
fn _initial_gmm(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n_components: usize,
    seed: u64,
    reg_covar: f32,
    threads: Option<usize>,
) -> PyResult<PyDiagGmm> {
    let a = f32_matrix(x, "X")?;
    let xs = rows_of(&a)?;
    let options = fit_options(n_components, seed, 0, 0.0, reg_covar, threads);
    py.detach(|| fvae::fit::initial_gmm(xs.data, xs.cols, &options).and_then(PyDiagGmm::from_fitted)).map_err(value_err)
}

type Stats<'py> = (u64, Bound<'py, PyArrayDyn<f64>>, Bound<'py, PyArrayDyn<f64>>, Bound<'py, PyArrayDyn<f64>>, f64);

/// One E-step of `gmm` over `X`: `(rows, S0 [K], S1 [K, D], S2 [K, D], summed log-likelihood)`,
/// float64, to be added over blocks and passed to `_m_step`.
#[pyfunction]
#[pyo3(signature = (gmm, x, *, threads=None))]
fn _e_step<'py>(
    py: Python<'py>,
    gmm: &Bound<'py, PyDiagGmm>,
    x: &Bound<'py, PyAny>,
    threads: Option<usize>,
) -> PyResult<Stats<'py>> {
    let g = gmm.get();
    let a = f32_matrix(x, "X")?;
    let xs = rows_of(&a)?;
    check_cols(xs.cols, g.d, "rows")?;
    let t = self::threads(threads);
    let s = py.detach(|| g.with(|gm| fvae::fit::e_step(gm, xs.data, t))).map_err(row_err(g.d))?;
    Ok((
        s.rows,
        array(py, s.s0, &[g.k])?,
        array(py, s.s1, &[g.k, g.d])?,
        array(py, s.s2, &[g.k, g.d])?,
        s.log_likelihood,
    ))
}

/// The M-step from merged E-step statistics of `gmm`: the next model.
#[pyfunction]
#[pyo3(signature = (gmm, rows, s0, s1, s2, *, reg_covar=1e-6))]
fn _m_step(
    gmm: &Bound<'_, PyDiagGmm>,
    rows: u64,
    s0: &Bound<'_, PyAny>,
    s1: &Bound<'_, PyAny>,
    s2: &Bound<'_, PyAny>,
    reg_covar: f32,
) -> PyResult<PyDiagGmm> {
    let g = gmm.get();
    let f64s = |x: &Bound<'_, PyAny>| -> PyResult<Vec<f64>> {
        let a: PyReadonlyArrayDyn<f64> = contiguous(x, "float64")?.extract()?;
        Ok(a.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?.to_vec())
    };
    let stats =
        GmmStatistics { k: g.k, d: g.d, rows, s0: f64s(s0)?, s1: f64s(s1)?, s2: f64s(s2)?, log_likelihood: 0.0 };
    let (mut w, mut m, mut v) = (g.weights.clone(), g.means.clone(), g.variances.clone());
    let options = GmmFitOptions::new(g.k).with_reg_covar(reg_covar);
    fvae::fit::m_step(&stats, &mut w, &mut m, &mut v, &options).map_err(value_err)?;
    PyDiagGmm::new_checked(w, m, v, g.d).map_err(value_err)
}

/// k-means codebook of `X` [N, D] (greedy k-means++ seeding as scikit-learn, Lloyd iterations,
/// `restarts` runs keeping the lowest energy). Deterministic for a seed.
///
/// >>> D, I = fvae.kmeans(X, 4, seed=0).search(X[:3], k=2)  # X [N, 2]
/// >>> I.shape
/// (3, 2)
#[pyfunction]
#[pyo3(signature = (x, n_clusters, *, seed=0, restarts=1, max_iter=300, threads=None))]
fn kmeans(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    n_clusters: usize,
    seed: u64,
    restarts: usize,
    max_iter: usize,
    threads: Option<usize>,
) -> PyResult<PyCodebook> {
    let a = f32_matrix(x, "X")?;
    let xs = rows_of(&a)?;
    let options = KMeansOptions::new(n_clusters)
        .with_seed(seed)
        .with_restarts(restarts)
        .with_max_iter(max_iter)
        .with_threads(self::threads(threads));
    let km = py.detach(|| fvae::fit::kmeans(xs.data, xs.cols, &options)).map_err(value_err)?;
    Ok(PyCodebook { m: n_clusters, d: km.d, data: CodebookData::F32(km.centroids) })
}

/// The VLAD vector `[M D]` of `X` [N, D] over a float32 codebook (Jegou et al. 2010), with
/// VLFeat's normalisation flags: `mass` (divide by counts), `sqrt` (signed square root),
/// `intra` (per-cluster L2), `l2` (global L2, the default).
///
/// >>> cb = fvae.Codebook(np.array([[0, 0], [10, 10]], np.float32))
/// >>> fvae.vlad(np.array([[1, 0], [9, 10]], np.float32), cb).round(3)
/// array([ 0.707,  0.   , -0.707,  0.   ], dtype=float32)
#[pyfunction]
#[pyo3(signature = (x, codebook, *, mass=false, sqrt=false, intra=false, l2=true, threads=None))]
#[allow(clippy::too_many_arguments)]
fn vlad<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    codebook: &Bound<'py, PyCodebook>,
    mass: bool,
    sqrt: bool,
    intra: bool,
    l2: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let cbo = codebook.get();
    let cb = cbo.need_f32("vlad")?;
    let a = f32_matrix(x, "X")?;
    let xs = rows_of(&a)?;
    check_cols(xs.cols, cbo.d, "descriptors")?;
    let (m, d, t) = (cbo.m, cbo.d, self::threads(threads));
    let norm = VladNormalization { mass, square_root: sqrt, intra, l2 };
    let v = py
        .detach(|| {
            let parts = parallel(xs.rows, t, |r| {
                let mut storage = vec![0f32; VladAccumulator::storage_len(m, d)];
                let mut acc = VladAccumulator::new(cb, &mut storage)?;
                acc.push_batch(&xs.data[r.start * d..r.end * d]).map_err(at_row(r.start, d))?;
                Ok((acc.count(), acc.sums().to_vec(), acc.mass().to_vec()))
            })?;
            let mut storage = vec![0f32; VladAccumulator::storage_len(m, d)];
            let mut acc = VladAccumulator::new(cb, &mut storage)?;
            for (count, sums, mass) in &parts {
                acc.merge_parts(*count, sums, mass)?;
            }
            let mut v = vec![0f32; m * d];
            acc.finish(norm, &mut v)?;
            Ok(v)
        })
        .map_err(row_err(d))?;
    array(py, v, &[m * d])
}

/// The bag-of-words histogram `[M]` of `X` [N, D] over a float32 codebook: hard (nearest
/// codeword) or, with `soft=k`, weights `exp(-beta d^2)` over the k nearest; `norm` one of
/// "counts", "l1", "l2", "hellinger".
///
/// >>> cb = fvae.Codebook(np.array([[0, 0], [10, 10]], np.float32))
/// >>> fvae.bow(np.array([[1, 0], [9, 10], [8, 8]], np.float32), cb, norm="counts")
/// array([1., 2.], dtype=float32)
#[pyfunction]
#[pyo3(signature = (x, codebook, *, soft=None, beta=1.0, norm="l1", threads=None))]
#[allow(clippy::too_many_arguments)]
fn bow<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    codebook: &Bound<'py, PyCodebook>,
    soft: Option<usize>,
    beta: f32,
    norm: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let cbo = codebook.get();
    let cb = cbo.need_f32("bow")?;
    let normalization = match norm {
        "counts" => BowNormalization::Counts,
        "l1" => BowNormalization::L1,
        "l2" => BowNormalization::L2,
        "hellinger" => BowNormalization::Hellinger,
        _ => return Err(PyValueError::new_err(format!("norm must be counts, l1, l2 or hellinger, got {norm:?}"))),
    };
    let assignment = match soft {
        None => BowAssignment::Hard,
        Some(neighbours) => BowAssignment::Soft { neighbours, beta },
    };
    let a = f32_matrix(x, "X")?;
    let xs = rows_of(&a)?;
    check_cols(xs.cols, cbo.d, "descriptors")?;
    let (m, d, t) = (cbo.m, cbo.d, self::threads(threads));
    let h = py
        .detach(|| {
            let parts = parallel(xs.rows, t, |r| {
                let mut storage = vec![0f32; m];
                let mut acc = BowAccumulator::new(cb, assignment, &mut storage)?;
                acc.push_batch(&xs.data[r.start * d..r.end * d]).map_err(at_row(r.start, d))?;
                Ok((acc.count(), acc.histogram().to_vec()))
            })?;
            let mut storage = vec![0f32; m];
            let mut acc = BowAccumulator::new(cb, assignment, &mut storage)?;
            for (count, hist) in &parts {
                acc.merge_histogram(*count, hist)?;
            }
            let mut h = vec![0f32; m];
            acc.finish(normalization, &mut h)?;
            Ok(h)
        })
        .map_err(row_err(d))?;
    array(py, h, &[m])
}

#[pymodule]
fn _fvae(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FormatError", m.py().get_type::<FormatError>())?;
    m.add_class::<PyDiagGmm>()?;
    m.add_class::<PyFisherAccumulator>()?;
    m.add_class::<PyCodebook>()?;
    m.add_class::<PyResidualVq>()?;
    m.add_class::<PyNetwork>()?;
    m.add_class::<PyFvVae>()?;
    m.add_function(wrap_pyfunction!(fisher_vector, m)?)?;
    m.add_function(wrap_pyfunction!(fisher_vectors, m)?)?;
    m.add_function(wrap_pyfunction!(fit_gmm, m)?)?;
    m.add_function(wrap_pyfunction!(_initial_gmm, m)?)?;
    m.add_function(wrap_pyfunction!(_e_step, m)?)?;
    m.add_function(wrap_pyfunction!(_m_step, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans, m)?)?;
    m.add_function(wrap_pyfunction!(vlad, m)?)?;
    m.add_function(wrap_pyfunction!(bow, m)?)?;
    Ok(())
}
