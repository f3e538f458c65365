//! File helpers shared by the readers and writers: whole-file reads with transparent gzip
//! (detected by its magic bytes, not by the name) and atomic writes (temp file + rename).

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Error, Result};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Largest size hint taken from a gzip trailer (the trailer is only a hint: it is the size
/// modulo 2^32 and could be forged).
const MAX_SIZE_HINT: usize = 1 << 30;

/// Whether `bytes` start like a gzip stream.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[..2] == GZIP_MAGIC
}

/// Reads a whole file, decompressing it when it is gzip (by magic bytes).
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = fs::read(path).map_err(|e| Error::io(path, e))?;
    if !is_gzip(&raw) {
        return Ok(raw);
    }
    // ISIZE (last 4 bytes, little-endian) = uncompressed size mod 2^32: a capacity hint.
    let hint = if raw.len() >= 18 {
        let t = &raw[raw.len() - 4..];
        u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize
    } else {
        0
    };
    let mut out = Vec::with_capacity(hint.min(MAX_SIZE_HINT));
    MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::format(
                path,
                format!("gzip stream, decompressed byte {}", out.len()),
                format!("invalid or truncated gzip data: {e}"),
            )
        })?;
    Ok(out)
}

/// Whether a path's file name ends in `.gz` (case-insensitive): writers compress then.
pub(crate) fn has_gz_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Writes a file atomically: the content goes to a temporary file in the same directory,
/// which is then renamed over `path`. The content is gzip-compressed when the name ends in
/// `.gz`. `fill` writes the (uncompressed) content.
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".tmp{}-{unique}", std::process::id()));
    let tmp = dir.join(tmp_name);

    let result = (|| -> std::io::Result<()> {
        let file = fs::File::create(&tmp)?;
        let mut buf = BufWriter::with_capacity(1 << 16, file);
        if has_gz_extension(path) {
            let mut gz = GzEncoder::new(&mut buf, Compression::default());
            fill(&mut gz)?;
            gz.finish()?;
        } else {
            fill(&mut buf)?;
        }
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
