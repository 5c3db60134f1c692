//! An export written to a file: gzip-compressed for the text formats, counted and hashed as it
//! reaches the disk, and made durable before it is called done. Export jobs and deliveries both
//! write through here, and describe the result with the same [`Manifest`].

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;

use auditrail_model::{ExportFormat, Filter, Manifest};
use chrono::{DateTime, Utc};
use flate2::write::GzEncoder;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::Export;

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Records that `export` starts and writes it to `path` (whose folder is made if need be).
pub async fn write(export: Export, path: &Path) -> Result<Written, String> {
    export.record_start().await.map_err(|e| {
        tracing::error!(error = ?e, "could not record an export");
        "the export could not be recorded".to_owned()
    })?;
    let written = |e: std::io::Error| format!("writing {} failed: {e}", path.display());
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(written)?;
    }
    let compressed = export.format.compressed();
    let rows = export.rows_read();
    let mut stream = export.into_stream();
    let mut sink = {
        let path = path.to_owned();
        blocking(move || Sink::create(&path, compressed)).await.map_err(written)?
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("the export stopped: {e}"))?;
        sink = blocking(move || sink.write_all(&chunk).map(|()| sink)).await.map_err(written)?;
    }
    let (bytes, sha256) = blocking(move || sink.finish()).await.map_err(written)?;
    Ok(Written { rows: rows.load(Ordering::Relaxed), bytes, sha256 })
}

/// Makes a rename into `dir` durable.
pub async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    blocking(move || std::fs::File::open(dir)?.sync_all()).await
}

/// The manifest of a file written from `query` as of `snapshot_at`.
pub struct Described<'a> {
    pub file: String,
    pub format: ExportFormat,
    pub query: &'a str,
    pub snapshot_at: DateTime<Utc>,
    pub written: Written,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl Described<'_> {
    pub fn manifest(self) -> Result<Manifest, String> {
        let filter = Filter::from_query(self.query).map_err(|e| e.to_string())?.0;
        let window = filter.time_window(self.snapshot_at).map_err(|e| e.to_string())?;
        Ok(Manifest {
            file: self.file,
            format: self.format,
            compression: self.format.compressed().then(|| "gzip".to_owned()),
            filter: self.query.to_owned(),
            from: window.from,
            to: Some(window.to.unwrap_or(self.snapshot_at)),
            time_zone: filter.tz.clone().unwrap_or_else(|| "UTC".to_owned()),
            snapshot_at: self.snapshot_at,
            rows: self.written.rows,
            bytes: self.written.bytes,
            sha256: self.written.sha256,
            created_by: self.created_by,
            created_at: self.created_at,
            finished_at: self.finished_at,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(std::io::Error::other)?
}

/// Counts and hashes what reaches the disk.
pub(crate) struct Hashed {
    file: std::fs::File,
    hash: Sha256,
    bytes: u64,
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A job's file being written: gzip-compressed or as is.
pub(crate) enum Sink {
    Plain(std::io::BufWriter<Hashed>),
    Gzip(Box<GzEncoder<std::io::BufWriter<Hashed>>>),
}

impl Sink {
    pub(crate) fn create(path: &Path, compressed: bool) -> std::io::Result<Sink> {
        let file = std::fs::File::create(path)?;
        let out = std::io::BufWriter::with_capacity(
            256 * 1024,
            Hashed { file, hash: Sha256::new(), bytes: 0 },
        );
        Ok(if compressed {
            Sink::Gzip(Box::new(GzEncoder::new(out, flate2::Compression::default())))
        } else {
            Sink::Plain(out)
        })
    }

    pub(crate) fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(out) => out.write_all(buf),
            Sink::Gzip(out) => out.write_all(buf),
        }
    }

    /// Completes the file and makes it durable; its size and SHA-256.
    pub(crate) fn finish(self) -> std::io::Result<(u64, String)> {
        let out = match self {
            Sink::Plain(out) => out,
            Sink::Gzip(out) => out.finish()?,
        };
        let hashed = out.into_inner().map_err(|e| e.into_error())?;
        hashed.file.sync_all()?;
        Ok((hashed.bytes, hex::encode(hashed.hash.finalize())))
    }
}
