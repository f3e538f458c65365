//! File helpers shared by the readers and writers: whole-file reads with transparent gzip
//! (detected by its magic bytes, not by the name) and gzip on writing through the atomic writer of [`crate::output`].

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Error, Result};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` start like a gzip stream.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[..2] == GZIP_MAGIC
}

/// The total decompressed size a format's header promises, from the content's first bytes.
pub(crate) type Promise = fn(&[u8]) -> Option<u64>;

/// How a reader turns the file's (decompressed) bytes into memory, for the memory cap
/// ([`crate::memory`]) checked before anything large is allocated.
pub(crate) struct ReadPlan {
    /// Bytes the parsed result takes per byte of (decompressed) content, at most: 8 for IDX
    /// (a byte becomes an f64), 4 for CSV (`0,` becomes an f64), 0 for labels.
    pub expansion: u128,
    /// The total decompressed size a format's header promises, from the first bytes of the
    /// content (at most [`PROMISE_PREFIX`] of them); `None` when the prefix does not say.
    pub promise: Option<Promise>,
}

/// Bytes of decompressed content handed to [`ReadPlan::promise`].
pub(crate) const PROMISE_PREFIX: u64 = 64;

/// Reads a whole regular file, decompressing it when it is gzip (by magic bytes). Devices,
/// pipes and folders are refused (`/dev/zero` would be read forever); the file, and the
/// decompressed stream (limited to what the header promises, else to the cap), are checked
/// against the memory cap before they are read.
pub(crate) fn read_maybe_gz(path: &Path, plan: &ReadPlan) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file: devices, pipes and folders are refused as data (reading \
                 them may never end); copy the data to a file first",
            ),
        ));
    }
    let per_byte = 1 + plan.expansion;
    crate::memory::check(
        format!("reading {} ({} bytes)", path.display(), meta.len()),
        u128::from(meta.len()) * per_byte,
    )?;
    let raw = fs::read(path).map_err(|e| Error::io(path, e))?;
    if !is_gzip(&raw) {
        return Ok(raw);
    }
    let cap = crate::memory::limit()?;
    let gz_err = |out: &Vec<u8>, e: std::io::Error| {
        Error::format(
            path,
            format!("gzip stream, decompressed byte {}", out.len()),
            format!("invalid or truncated gzip data: {e}"),
        )
    };
    let mut decoder = MultiGzDecoder::new(&raw[..]);
    let mut out = Vec::new();
    (&mut decoder)
        .take(PROMISE_PREFIX)
        .read_to_end(&mut out)
        .map_err(|e| gz_err(&out, e))?;
    let promised = plan.promise.and_then(|p| p(&out));
    let limit = match promised {
        Some(total) => {
            crate::memory::check(
                format!(
                    "{}: loading the {total} bytes its gzip content's header promises",
                    path.display()
                ),
                u128::from(total) * per_byte + raw.len() as u128,
            )?;
            total
        }
        None => u64::try_from(u128::from(cap) / per_byte).unwrap_or(u64::MAX),
    };
    out.reserve(usize::try_from(limit.min(1 << 30)).unwrap_or(0));
    let already = out.len() as u64;
    decoder
        .take(limit.saturating_sub(already).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| gz_err(&out, e))?;
    if out.len() as u64 > limit {
        return Err(Error::format(
            path,
            format!("gzip stream, decompressed byte {limit}"),
            match promised {
                Some(total) => {
                    format!("the gzip data expands beyond the {total} bytes its header promises")
                }
                None => format!(
                    "the gzip data expands beyond {limit} bytes, more than the memory cap \
                     allows ({}; set {} to raise it)",
                    crate::memory::human(u128::from(cap)),
                    crate::memory::ENV_VAR
                ),
            },
        ));
    }
    Ok(out)
}

/// Whether a path's file name ends in `.gz` (case-insensitive): writers compress then.
pub(crate) fn has_gz_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Writes a file through the atomic writer ([`crate::output::write_with`]), gzip-compressed
/// when the name ends in `.gz`. `fill` writes the (uncompressed) content.
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let gz = has_gz_extension(path);
    crate::output::write_with(path, |w| {
        if gz {
            let mut encoder = GzEncoder::new(w, Compression::default());
            fill(&mut encoder)?;
            encoder.finish().map(drop)
        } else {
            fill(w)
        }
    })
}
