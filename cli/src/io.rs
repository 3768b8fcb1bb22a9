//! What every command shares: reading inputs, writing outputs atomically, thread counts,
//! progress, and one-line errors.

use fvae::formats::npy::{self, Npy};
use fvae::formats::AlignedBuf;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// A command's failure: one line for stderr.
pub type CliResult<T> = Result<T, String>;

/// Adds the file name to an error, so the line says where.
pub fn ctx<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// A whole file in a 16-aligned buffer (tensors are read from it in place).
pub fn read_file(path: &Path) -> CliResult<AlignedBuf> {
    AlignedBuf::read(path).map_err(ctx(path))
}

/// A row-major matrix read from `.npy`.
pub struct Matrix<T> {
    pub data: Vec<T>,
    pub rows: usize,
    pub cols: usize,
}

/// Reads a `.npy` of any float or integer dtype as f32 `[rows, cols]` (1-D is one row).
pub fn read_f32_matrix(path: &Path) -> CliResult<Matrix<f32>> {
    let buf = read_file(path)?;
    let a = Npy::parse(buf.as_bytes()).map_err(ctx(path))?;
    let (rows, cols) = a.rows_cols();
    // f32 files (the common case) are copied straight from the aligned buffer; others convert.
    let data = match a.as_f32("input") {
        Ok(v) => v.to_vec(),
        Err(_) => a.to_f32_vec("input").map_err(ctx(path))?,
    };
    Ok(Matrix { data, rows, cols })
}

/// Reads an int8 `.npy` as `[rows, cols]`.
#[allow(dead_code)] // used by the VQ and int8-network commands
pub fn read_i8_matrix(path: &Path) -> CliResult<Matrix<i8>> {
    let buf = read_file(path)?;
    let a = Npy::parse(buf.as_bytes()).map_err(ctx(path))?;
    let (rows, cols) = a.rows_cols();
    let data = a.as_i8("input").map_err(ctx(path))?.to_vec();
    Ok(Matrix { data, rows, cols })
}

/// Writes `path` through a temporary file in the same folder, renamed into place only when
/// everything was written: a failure never leaves a half-written output.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> CliResult<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let tmp: PathBuf = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        write(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(ctx(path))
}

/// Writes an f32 `.npy` atomically.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> CliResult<()> {
    write_atomic(path, |w| npy::write_f32(w, shape, data))
}

/// Writes an i64 `.npy` atomically.
#[allow(dead_code)] // used by the VQ and int8-network commands
pub fn write_i64(path: &Path, shape: &[usize], data: &[i64]) -> CliResult<()> {
    write_atomic(path, |w| npy::write_i64(w, shape, data))
}

/// Writes an i8 `.npy` atomically.
#[allow(dead_code)] // used by the VQ and int8-network commands
pub fn write_i8(path: &Path, shape: &[usize], data: &[i8]) -> CliResult<()> {
    write_atomic(path, |w| npy::write_i8(w, shape, data))
}

/// `--threads`: 0 or absent means every core.
pub fn threads(requested: Option<usize>) -> usize {
    match requested {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    }
}

/// Splits `rows` into at most `parts` contiguous ranges of near-equal size.
pub fn split_rows(rows: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.clamp(1, rows.max(1));
    (0..parts).map(|i| rows * i / parts..rows * (i + 1) / parts).collect()
}

/// A progress bar on stderr for long jobs (drawn only when stderr is a terminal).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} rows ({per_sec}, eta {eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Runs `work(range)` for each row range on its own thread (scoped) and returns the results in
/// order; the first error wins.
pub fn parallel<T: Send>(
    rows: usize,
    threads: usize,
    work: impl Fn(std::ops::Range<usize>) -> CliResult<T> + Sync,
) -> CliResult<Vec<T>> {
    let ranges = split_rows(rows, threads);
    if ranges.len() == 1 {
        return Ok(vec![work(ranges[0].clone())?]);
    }
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = ranges.into_iter().map(|r| s.spawn(move || work(r))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a worker thread panicked".into()))).collect()
    })
}
