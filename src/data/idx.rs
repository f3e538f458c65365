//! The IDX format (MNIST and friends): big-endian header, then raw bytes in row-major order.
//!
//! * images: magic `00 00 08 03` (unsigned byte, 3 dims), u32 count, rows, cols, then the
//!   pixels. A 2-dim variant (`00 00 08 02`: count, features) is also read and written, for
//!   data sets without an image shape.
//! * labels: magic `00 00 08 01`, u32 count, then one byte per sample.
//!
//! Files may be gzip-compressed (detected by the magic bytes `1f 8b`, not by the name).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::data::dataset::Dataset;
use crate::data::fileio::{read_maybe_gz, write_atomic, ReadPlan};
use crate::error::{Error, Result};

/// The IDX type code for unsigned bytes, the only element type read here.
const TYPE_U8: u8 = 0x08;

/// Default divisor for IDX pixel bytes (MNIST convention: 0..255).
pub const IDX_SCALE: f64 = 255.0;

/// What [`Dataset::read_idx`] says (in [`Dataset::notes`]) about a file whose bytes are all 0
/// or 1 and that it therefore read as binary data.
pub(crate) fn binary_note(path: &Path) -> String {
    format!(
        "{}: every pixel byte is 0 or 1, so the file is read as binary data (values 0 and 1) \
         rather than as grey levels divided by {IDX_SCALE}; to divide by {IDX_SCALE} anyway, \
         read it with Dataset::read_idx_with_scale(path, {IDX_SCALE})",
        path.display()
    )
}

fn type_name(code: u8) -> &'static str {
    match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "unknown",
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" x ")
}

/// A checked IDX header: dimensions and where the payload starts.
struct Header {
    dims: Vec<usize>,
    payload_start: usize,
}

/// Parses and checks an IDX header of an unsigned-byte file whose number of dimensions is
/// one of `ndims`, and checks that the payload has exactly the declared length.
fn parse_header(bytes: &[u8], path: &Path, kind: &str, ndims: &[u8]) -> Result<Header> {
    let expected_magic = format!(
        "expected an IDX {kind} file (magic {})",
        ndims
            .iter()
            .map(|&d| format!("0x{:08x}", 0x0800 | d as u32))
            .collect::<Vec<_>>()
            .join(" or ")
    );
    if bytes.len() < 4 {
        return Err(Error::format(
            path,
            format!("byte {}", bytes.len()),
            format!(
                "file ends after {} bytes, inside the 4-byte magic number; {expected_magic}",
                bytes.len()
            ),
        ));
    }
    let magic = be_u32(bytes, 0);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(Error::format(
            path,
            "byte 0",
            format!("bad magic number 0x{magic:08x}; {expected_magic}"),
        ));
    }
    if bytes[2] != TYPE_U8 {
        return Err(Error::format(
            path,
            "byte 2",
            format!(
                "unsupported IDX element type 0x{:02x} ({}); only unsigned byte (0x08) is supported",
                bytes[2],
                type_name(bytes[2])
            ),
        ));
    }
    let ndim = bytes[3];
    if !ndims.contains(&ndim) {
        let hint = match ndim {
            1 => " (this looks like a label file)",
            3 => " (this looks like an image file)",
            _ => "",
        };
        return Err(Error::format(
            path,
            "byte 3",
            format!("IDX file has {ndim} dimensions{hint}; {expected_magic}"),
        ));
    }
    let header_len = 4 + 4 * ndim as usize;
    let dims = read_dims(bytes, path, ndim as usize)?;
    check_payload_length(bytes, path, &dims, header_len)?;
    Ok(Header {
        dims,
        payload_start: header_len,
    })
}

/// The `ndim` dimensions after the magic number, each nonzero.
fn read_dims(bytes: &[u8], path: &Path, ndim: usize) -> Result<Vec<usize>> {
    let header_len = 4 + 4 * ndim;
    if bytes.len() < header_len {
        return Err(Error::format(
            path,
            format!("byte {}", bytes.len()),
            format!(
                "file ends inside the header: expected {header_len} header bytes, found {}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|k| be_u32(bytes, 4 + 4 * k) as usize)
        .collect();
    if let Some(k) = dims.iter().position(|&d| d == 0) {
        return Err(Error::format(
            path,
            format!("byte {}", 4 + 4 * k),
            format!("dimension {} is zero ({})", k + 1, dims_text(&dims)),
        ));
    }
    Ok(dims)
}

/// Checks that the payload after the `header_len`-byte header holds exactly the bytes the
/// dimensions declare.
fn check_payload_length(
    bytes: &[u8],
    path: &Path,
    dims: &[usize],
    header_len: usize,
) -> Result<()> {
    let payload = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&p| p.checked_add(header_len).is_some())
        .ok_or_else(|| {
            Error::format(
                path,
                "byte 4",
                format!("dimensions {} overflow", dims_text(dims)),
            )
        })?;
    let expected_len = header_len + payload;
    let found = bytes.len() - header_len;
    if bytes.len() < expected_len {
        return Err(Error::format(
            path,
            format!("byte {}", bytes.len()),
            format!(
                "payload truncated: the header (byte 4) declares {} = {payload} bytes after the \
                 {header_len}-byte header, found {found} (expected a file of {expected_len} bytes, \
                 found {})",
                dims_text(dims),
                bytes.len()
            ),
        ));
    }
    if bytes.len() > expected_len {
        return Err(Error::format(
            path,
            format!("byte {expected_len}"),
            format!(
                "{} unexpected bytes after the payload: the header (byte 4) declares {} = \
                 {payload} bytes, found {found} (expected a file of {expected_len} bytes)",
                bytes.len() - expected_len,
                dims_text(dims)
            ),
        ));
    }
    Ok(())
}

/// Decodes IDX image bytes into a data set, dividing each byte by `scale`.
pub(crate) fn decode_images(bytes: &[u8], path: &Path, scale: f64) -> Result<Dataset> {
    decode_images_scaled(bytes, path, Some(scale)).map(|(ds, _)| ds)
}

/// Decodes IDX image bytes, dividing each byte by `scale`; `None` chooses: 1 when every byte
/// is 0 or 1 and at least one is 1 (binary data stored as 0/1 bytes, noted in the data set's
/// [`Dataset::notes`]), else [`IDX_SCALE`]. Also returns whether the file was read as binary
/// that way.
pub(crate) fn decode_images_scaled(
    bytes: &[u8],
    path: &Path,
    scale: Option<f64>,
) -> Result<(Dataset, bool)> {
    if let Some(s) = scale {
        check_scale(s)?;
    }
    let h = parse_header(bytes, path, "image", &[3, 2])?;
    let n_samples = h.dims[0];
    let n_features = h.dims[1..].iter().product::<usize>();
    let image_shape = (h.dims.len() == 3).then(|| (h.dims[1], h.dims[2]));
    let payload = &bytes[h.payload_start..];

    let max = payload.iter().copied().max().unwrap_or(0);
    let binary = scale.is_none() && max == 1;
    let scale = match scale {
        Some(s) => s,
        None if binary => 1.0,
        None => IDX_SCALE,
    };
    if f64::from(max) > scale {
        let pos = payload
            .iter()
            .position(|&b| f64::from(b) > scale)
            .unwrap_or(0);
        return Err(Error::format(
            path,
            format!("byte {}", h.payload_start + pos),
            format!(
                "pixel value {} (sample {}, feature {}) exceeds the scale {scale}: values must \
                 lie in [0, 1] after dividing by the scale (largest value in the file: {max})",
                payload[pos],
                pos / n_features,
                pos % n_features
            ),
        ));
    }
    let mut lut = [0.0f64; 256];
    for (b, v) in lut.iter_mut().enumerate() {
        *v = b as f64 / scale;
    }
    let data: Vec<f64> = payload.iter().map(|&b| lut[b as usize]).collect();
    let mut ds = Dataset::from_parts(
        data,
        n_samples,
        n_features,
        None,
        image_shape,
        display_name(path),
    );
    if binary {
        ds.notes.push(binary_note(path));
    }
    Ok((ds, binary))
}

/// Decodes an IDX label file.
pub(crate) fn decode_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let h = parse_header(bytes, path, "label", &[1])?;
    Ok(bytes[h.payload_start..].to_vec())
}

pub(crate) fn check_scale(scale: f64) -> Result<()> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(Error::param(
            "scale",
            format!(
                "must be a positive finite number (the divisor of the raw values), got {scale}"
            ),
        ))
    }
}

/// The file name as a data-set name.
pub(crate) fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Candidate label files for an image file, by the usual naming: `images` -> `labels` and
/// `idx3` -> `idx1` in the file name, with or without `.gz`.
pub(crate) fn sibling_label_candidates(images: &Path) -> Vec<PathBuf> {
    let Some(name) = images.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let swapped = name
        .replace("images", "labels")
        .replace("Images", "Labels")
        .replace("IMAGES", "LABELS")
        .replace("idx3", "idx1")
        .replace("IDX3", "IDX1");
    if swapped == name {
        return Vec::new();
    }
    let base = swapped
        .strip_suffix(".gz")
        .unwrap_or(swapped.as_str())
        .to_string();
    let dir = images.parent().unwrap_or_else(|| Path::new(""));
    let mut out = vec![dir.join(&swapped)];
    for alt in [base.clone(), format!("{base}.gz")] {
        let p = dir.join(alt);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The first existing sibling label file of an image file, if any.
pub(crate) fn find_sibling_labels(images: &Path) -> Option<PathBuf> {
    sibling_label_candidates(images)
        .into_iter()
        .find(|p| p.is_file())
}

/// The size of an IDX file of unsigned bytes as its header (the first bytes) promises.
fn promised_size(prefix: &[u8]) -> Option<u64> {
    if prefix.len() < 4 || prefix[0] != 0 || prefix[1] != 0 || prefix[2] != TYPE_U8 {
        return None;
    }
    let nd = prefix[3] as usize;
    let head = 4 + 4 * nd;
    if prefix.len() < head {
        return None;
    }
    let mut payload: u64 = 1;
    for k in 0..nd {
        payload = payload.checked_mul(u64::from(be_u32(prefix, 4 + 4 * k)))?;
    }
    payload.checked_add(head as u64)
}

/// Reads an image file and, when given, its label file; checks that the counts agree.
/// `scale: None` chooses the divisor as [`decode_images_scaled`] does; also returns whether
/// the file was read as binary 0/1 bytes.
pub(crate) fn read(
    images: &Path,
    labels: Option<&Path>,
    scale: Option<f64>,
) -> Result<(Dataset, bool)> {
    if let Some(s) = scale {
        check_scale(s)?;
    }
    let bytes = read_maybe_gz(
        images,
        &ReadPlan {
            expansion: 8,
            promise: Some(promised_size),
        },
    )?;
    let (mut ds, binary) = decode_images_scaled(&bytes, images, scale)?;
    drop(bytes);
    if let Some(lp) = labels {
        let plan = ReadPlan {
            expansion: 0,
            promise: Some(promised_size),
        };
        let lab = decode_labels(&read_maybe_gz(lp, &plan)?, lp)?;
        if lab.len() != ds.n_samples() {
            return Err(Error::format(
                lp,
                "byte 4",
                format!(
                    "label count {} differs from the image count {} in {}",
                    lab.len(),
                    ds.n_samples(),
                    images.display()
                ),
            ));
        }
        ds.labels = Some(lab);
    }
    Ok((ds, binary))
}

/// Writes the IDX header and payload of a data set (values quantised to `round(255 x)`).
pub(crate) fn write(ds: &Dataset, images: &Path, labels: Option<&Path>) -> Result<()> {
    let lab = match labels {
        Some(lp) => Some((
            lp,
            ds.labels().ok_or_else(|| {
                Error::param(
                    "labels",
                    format!(
                        "a label file ({}) was requested but the data set has no labels",
                        lp.display()
                    ),
                )
            })?,
        )),
        None => None,
    };
    let n = to_u32(ds.n_samples(), "number of samples")?;
    let dims: Vec<u32> = match ds.image_shape() {
        Some((r, c)) => vec![n, to_u32(r, "image rows")?, to_u32(c, "image columns")?],
        None => vec![n, to_u32(ds.n_features(), "number of features")?],
    };
    write_atomic(images, |w| {
        w.write_all(&[0, 0, TYPE_U8, dims.len() as u8])?;
        for d in &dims {
            w.write_all(&d.to_be_bytes())?;
        }
        let mut row = vec![0u8; ds.n_features()];
        for i in 0..ds.n_samples() {
            for (b, &x) in row.iter_mut().zip(ds.row(i)) {
                *b = (x * 255.0).round().clamp(0.0, 255.0) as u8;
            }
            w.write_all(&row)?;
        }
        Ok(())
    })?;
    if let Some((lp, lab)) = lab {
        write_atomic(lp, |w: &mut dyn Write| {
            w.write_all(&[0, 0, TYPE_U8, 1])?;
            w.write_all(&n.to_be_bytes())?;
            w.write_all(lab)
        })?;
    }
    Ok(())
}

fn to_u32(x: usize, what: &'static str) -> Result<u32> {
    u32::try_from(x).map_err(|_| {
        Error::Shape(format!(
            "{what} = {x} does not fit the IDX header (at most {})",
            u32::MAX
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ndim: u8, dims: &[u32]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, ndim];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn decodes_small_file() {
        let mut b = header(3, &[2, 1, 2]);
        b.extend_from_slice(&[0, 255, 51, 102]);
        let ds = decode_images(&b, Path::new("x"), 255.0).unwrap();
        assert_eq!(ds.n_samples(), 2);
        assert_eq!(ds.n_features(), 2);
        assert_eq!(ds.image_shape(), Some((1, 2)));
        assert_eq!(ds.as_slice(), &[0.0, 1.0, 0.2, 0.4]);
    }

    #[test]
    fn two_dim_file_has_no_shape() {
        let mut b = header(2, &[1, 3]);
        b.extend_from_slice(&[0, 8, 16]);
        let ds = decode_images(&b, Path::new("x"), 16.0).unwrap();
        assert_eq!(ds.image_shape(), None);
        assert_eq!(ds.as_slice(), &[0.0, 0.5, 1.0]);
    }

    #[test]
    fn header_errors_name_offsets() {
        let p = Path::new("f");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![0, 0], "byte 2"),
            (vec![1, 2, 3, 4, 0, 0, 0, 0], "byte 0"),
            (vec![0, 0, 0x0d, 3], "byte 2"),
            (header(1, &[5]), "byte 3"),
            (vec![0, 0, 8, 3, 0, 0, 0, 1, 0], "byte 9"),
            (header(3, &[1, 0, 2]), "byte 8"),
            (header(3, &[u32::MAX, u32::MAX, u32::MAX]), "byte 4"),
            ([header(3, &[1, 1, 2]), vec![1, 2, 3]].concat(), "byte 18"),
        ];
        for (bytes, loc) in cases {
            match decode_images(&bytes, p, 255.0) {
                Err(Error::Format { location, .. }) => assert_eq!(location, loc, "{bytes:?}"),
                other => panic!("expected a format error for {bytes:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn value_above_scale_is_an_error() {
        let mut b = header(3, &[1, 1, 2]);
        b.extend_from_slice(&[16, 17]);
        match decode_images(&b, Path::new("f"), 16.0) {
            Err(Error::Format { location, what, .. }) => {
                assert_eq!(location, "byte 17");
                assert!(what.contains("17"), "{what}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode_images(&b, Path::new("f"), 0.0),
            Err(Error::InvalidParameter { .. })
        ));
    }

    #[test]
    fn sibling_names() {
        let c = sibling_label_candidates(Path::new("/d/train-images-idx3-ubyte.gz"));
        assert_eq!(c[0], Path::new("/d/train-labels-idx1-ubyte.gz"));
        assert!(c.contains(&PathBuf::from("/d/train-labels-idx1-ubyte")));
        let c = sibling_label_candidates(Path::new("t10k-images.idx3-ubyte"));
        assert_eq!(c[0], Path::new("t10k-labels.idx1-ubyte"));
        assert!(sibling_label_candidates(Path::new("/d/pixels.bin")).is_empty());
    }
}
