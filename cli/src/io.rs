//! What every command shares: reading inputs, writing outputs atomically, thread counts,
//! progress, one-line errors, and the Fisher-vector normalisation flags.

use fvae::fisher::Normalization;
use fvae::formats::npy::{self, Npy};
use fvae::formats::{AlignedBuf, DType};
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

/// Which row and column a bad value of a batch of `d`-column rows (read from `path`, starting at
/// `first_row`) is about, for the message. The errors whose index is a flat index into the rows
/// name them `descriptor`, `descriptor batch`, `query` or `queries`.
pub fn at_row(path: &Path, first_row: usize, d: usize) -> impl Fn(fvae::Error) -> String + '_ {
    move |e| match e {
        fvae::Error::Value { what: "descriptor" | "descriptor batch" | "query" | "queries", index, reason } => {
            format!("{}: row {}, column {}: {reason}", path.display(), first_row + index / d, index % d)
        }
        e => format!("{}: {e}", path.display()),
    }
}

/// The Fisher-vector normalisation `--improved`, `--power` and `--l2` ask for (`fv`, `fv-vae`).
pub fn normalization(improved: bool, power: Option<f32>, l2: bool) -> CliResult<Normalization> {
    if let Some(a) = power {
        if !(a.is_finite() && a > 0.0) {
            return Err(format!("--power must be finite and > 0, got {a}"));
        }
    }
    Ok(if improved { Normalization::IMPROVED } else { Normalization { power, l2 } })
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

/// Reads a little-endian f32 `.npy` block by block, on `threads` threads at once: `start(rows,
/// cols)` first (it may refuse), then `work` on each thread with the [`RowBlocks`] of its own
/// contiguous range of rows (as [`split_rows`] cuts them), which reads that range from its own
/// handle on the file into one reused buffer. The array is never whole in memory (no large
/// allocation to fault in, no second copy, each block still in cache when it is used) and the
/// reading is as parallel as the work. Returns `[rows, cols]` and the threads' results in row
/// order, or `None` before any `work` if the file is not a plain f32 array whose length agrees
/// with its header (the caller then reads it whole, converting or reporting).
pub fn stream_f32_rows<T: Send>(
    path: &Path,
    block_bytes: usize,
    threads: usize,
    start: impl FnOnce(usize, usize) -> CliResult<()>,
    work: impl Fn(&mut RowBlocks<'_>) -> CliResult<T> + Sync,
) -> CliResult<Option<Streamed<T>>> {
    use std::io::Read;
    let mut file = File::open(path).map_err(ctx(path))?;
    let file_len = file.metadata().map_err(ctx(path))?.len();
    // The header is at most a few kilobytes; numpy pads it to a multiple of 64 bytes.
    let mut head = vec![0u8; 4096.min(file_len as usize)];
    file.read_exact(&mut head).map_err(ctx(path))?;
    // Anything unusual (another dtype, a damaged or very long header, a length that disagrees)
    // goes to the whole-file reader, which converts or names the problem as it always has.
    let h = match npy::Header::parse(&head) {
        Ok(h) if h.dtype == DType::F32 && cfg!(target_endian = "little") => h,
        _ => return Ok(None),
    };
    if file_len != h.data_offset as u64 + h.data_len as u64 {
        return Ok(None);
    }
    let (rows, cols) = h.rows_cols();
    drop(file);
    start(rows, cols)?;
    let block_rows = block_bytes.checked_div(cols * 4).unwrap_or(0).max(1);
    let results = parallel(rows, threads, |range| {
        let file = File::open(path).map_err(ctx(path))?;
        let (offset, next) = (h.data_offset as u64, range.start);
        work(&mut RowBlocks { file, path, offset, cols, block_rows, range, next, words: Vec::new() })
    })?;
    Ok(Some(((rows, cols), results)))
}

/// What [`stream_f32_rows`] returns: `[rows, cols]` and the threads' results in row order.
pub type Streamed<T> = ((usize, usize), Vec<T>);

/// One thread's rows of a `.npy` being streamed (see [`stream_f32_rows`]).
pub struct RowBlocks<'p> {
    file: File,
    path: &'p Path,
    offset: u64,
    cols: usize,
    block_rows: usize,
    range: std::ops::Range<usize>,
    next: usize,
    /// f32 words, so the bytes read into them are aligned for f32 by construction.
    words: Vec<f32>,
}

impl RowBlocks<'_> {
    /// The rows this thread reads.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.range.clone()
    }

    /// The next block of whole rows of the range (at most the block size) and its first row;
    /// `None` after the last.
    pub fn next_block(&mut self) -> CliResult<Option<(&[f32], usize)>> {
        use std::io::{Read, Seek, SeekFrom};
        let row = self.next;
        if row >= self.range.end || self.cols == 0 {
            return Ok(None);
        }
        if row == self.range.start {
            let at = self.offset + row as u64 * self.cols as u64 * 4;
            self.file.seek(SeekFrom::Start(at)).map_err(ctx(self.path))?;
        }
        let n = self.block_rows.min(self.range.end - row);
        self.words.resize(n * self.cols, 0.0);
        self.file.read_exact(f32_bytes_mut(&mut self.words)).map_err(ctx(self.path))?;
        self.next = row + n;
        Ok(Some((&self.words, row)))
    }
}

/// The bytes of an f32 slice, to read little-endian file data straight into (the caller has
/// checked the host is little-endian).
fn f32_bytes_mut(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: the u8 view covers exactly the slice's bytes, u8 has alignment 1, every byte
    // pattern is a valid f32, and the view borrows `v` mutably, so nothing aliases it.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
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
