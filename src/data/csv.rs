//! CSV (or other delimited text) data: one sample per line, numbers separated by a delimiter,
//! optionally a header line and a label column. Plain or gzip (detected by magic bytes).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checked::checked_builder;
use crate::data::dataset::Dataset;
use crate::data::fileio::{read_maybe_gz, write_atomic, ReadPlan};
use crate::data::idx::{check_scale, display_name};
use crate::error::{Error, Result};

/// Which column of a CSV file holds the class label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelColumn {
    /// The first field of each line.
    First,
    /// The last field of each line (the layout of scikit-learn's `digits.csv.gz`).
    Last,
}

/// How to read a CSV file. The default: no header, no label column, automatic scale,
/// comma-separated.
///
/// ```
/// use emf_rbm::data::{CsvOptions, LabelColumn};
/// // scikit-learn's digits.csv.gz: 64 counts 0..16, then the label.
/// let opts = CsvOptions { label_column: Some(LabelColumn::Last), scale: Some(16.0), ..Default::default() };
/// # let _ = opts;
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsvOptions {
    /// Skip the first (non-blank) line.
    pub has_header: bool,
    /// The column holding integer class labels 0..255, if any.
    pub label_column: Option<LabelColumn>,
    /// Divide every value by this. `None` = automatic: the values must already lie in [0, 1]
    /// (otherwise the error names the largest value and suggests a scale).
    pub scale: Option<f64>,
    /// The field separator (`b','`; `b'\t'` for TSV, `b';'`, ...).
    pub delimiter: u8,
}

impl CsvOptions {
    /// Checks the scale (finite and > 0) and the delimiter (not a line break or a quote).
    pub fn validate(&self) -> Result<()> {
        if let Some(s) = self.scale {
            check_scale(s)?;
        }
        if self.delimiter == b'\n' || self.delimiter == b'\r' || self.delimiter == b'"' {
            return Err(Error::param(
                "delimiter",
                "must not be a line break or a quote",
            ));
        }
        Ok(())
    }
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            has_header: false,
            label_column: None,
            scale: None,
            delimiter: b',',
        }
    }
}

/// A field's text for an error message (lossy UTF-8, shortened).
fn show(field: &[u8]) -> String {
    let s = String::from_utf8_lossy(field);
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.into_owned()
    }
}

fn clean(field: &[u8]) -> &[u8] {
    let f = field.trim_ascii();
    if f.len() >= 2 && f[0] == b'"' && f[f.len() - 1] == b'"' {
        f[1..f.len() - 1].trim_ascii()
    } else {
        f
    }
}

fn parse_number(field: &[u8]) -> Option<f64> {
    let x: f64 = std::str::from_utf8(clean(field)).ok()?.parse().ok()?;
    x.is_finite().then_some(x)
}

fn parse_label(field: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(clean(field)).ok()?;
    if let Ok(l) = s.parse::<u8>() {
        return Some(l);
    }
    let x: f64 = s.parse().ok()?;
    (x.fract() == 0.0 && (0.0..=255.0).contains(&x)).then_some(x as u8)
}

/// A suggested divisor for values whose maximum is `max`.
fn suggest_scale(max: f64) -> f64 {
    if max <= 16.0 {
        16.0
    } else if max <= 255.0 {
        255.0
    } else {
        max
    }
}

/// Reads a delimited text file into a data set.
pub(crate) fn read(path: &Path, opts: &CsvOptions) -> Result<Dataset> {
    opts.validate()?;
    let bytes = read_maybe_gz(
        path,
        &ReadPlan {
            expansion: 4,
            promise: None,
        },
    )?;
    let mut rows = Rows::default();
    for (k, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        rows.n_lines = k + 1;
        let mut line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        if k == 0 {
            line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        if opts.has_header && !rows.header_seen {
            rows.header_seen = true;
            continue;
        }
        rows.parse_line(path, opts, k + 1, line)?;
    }
    let Some(count) = rows.n_fields else {
        return Err(Error::format(
            path,
            format!("line {}", rows.n_lines.max(1)),
            "no data rows",
        ));
    };
    let n_features = count - usize::from(opts.label_column.is_some());
    rows.scale_values(path, opts, n_features)?;
    let n_samples = rows.row_lines.len();
    Ok(Dataset::from_parts(
        rows.data,
        n_samples,
        n_features,
        opts.label_column.map(|_| rows.labels),
        None,
        display_name(path),
    ))
}

/// What has been parsed so far.
#[derive(Default)]
struct Rows {
    data: Vec<f64>,
    labels: Vec<u8>,
    /// The line of each data row.
    row_lines: Vec<usize>,
    /// Fields per line (from the first data line).
    n_fields: Option<usize>,
    header_seen: bool,
    n_lines: usize,
}

impl Rows {
    /// Parses one non-blank data line (1-based `line_no`).
    fn parse_line(
        &mut self,
        path: &Path,
        opts: &CsvOptions,
        line_no: usize,
        line: &[u8],
    ) -> Result<()> {
        let count = line.split(|&b| b == opts.delimiter).count();
        let expected = *self.n_fields.get_or_insert(count);
        if count != expected {
            return Err(Error::format(
                path,
                format!("line {line_no}"),
                format!("expected {expected} fields (as on the first data line), found {count}"),
            ));
        }
        if opts.label_column.is_some() && count < 2 {
            return Err(Error::format(
                path,
                format!("line {line_no}"),
                format!("expected at least 2 fields (features and a label), found {count}"),
            ));
        }
        let label_at = match opts.label_column {
            Some(LabelColumn::First) => Some(0),
            Some(LabelColumn::Last) => Some(count - 1),
            None => None,
        };
        for (f, field) in line.split(|&b| b == opts.delimiter).enumerate() {
            let at = || format!("line {line_no}, field {}", f + 1);
            if Some(f) == label_at {
                let l = parse_label(field).ok_or_else(|| {
                    Error::format(
                        path,
                        at(),
                        format!(
                            "expected an integer class label 0..255, found `{}`",
                            show(field)
                        ),
                    )
                })?;
                self.labels.push(l);
            } else {
                let x = parse_number(field).ok_or_else(|| {
                    Error::format(
                        path,
                        at(),
                        format!("expected a finite number, found `{}`", show(field)),
                    )
                })?;
                self.data.push(x);
            }
        }
        self.row_lines.push(line_no);
        Ok(())
    }

    /// Divides the values by the scale, or checks that they lie in [0, 1] without one.
    fn scale_values(&mut self, path: &Path, opts: &CsvOptions, n_features: usize) -> Result<()> {
        // Where value k of the data came from, for error messages.
        let locate = |k: usize| {
            let first = usize::from(opts.label_column == Some(LabelColumn::First));
            let field = k % n_features + 1 + first;
            format!("line {}, field {field}", self.row_lines[k / n_features])
        };
        let data = &mut self.data;
        if let Some(scale) = opts.scale {
            for (k, x) in data.iter_mut().enumerate() {
                let y = *x / scale;
                if !(0.0..=1.0).contains(&y) {
                    return Err(Error::format(
                        path,
                        locate(k),
                        format!("value {x} divided by the scale {scale} is {y}, outside [0, 1]"),
                    ));
                }
                *x = y;
            }
        } else if let Some(k) = data.iter().position(|x| !(0.0..=1.0).contains(x)) {
            let x = data[k];
            let what = if x < 0.0 {
                format!("value {x} is negative: values must lie in [0, 1]")
            } else {
                let max = data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                format!(
                    "value {x} is outside [0, 1] and no scale was given; the largest value \
                     is {max}: set a scale to divide by (e.g. CsvOptions {{ scale: \
                     Some({:.1}), .. }})",
                    suggest_scale(max)
                )
            };
            return Err(Error::format(path, locate(k), what));
        }
        Ok(())
    }
}

/// Writes a data set as CSV: one sample per line, values in [0, 1] (shortest exact decimal
/// form), then the label when the data set has labels. No header.
pub(crate) fn write(ds: &Dataset, path: &Path) -> Result<()> {
    write_atomic(path, |w: &mut dyn Write| {
        let mut line = String::with_capacity(ds.n_features() * 8);
        for i in 0..ds.n_samples() {
            line.clear();
            for (j, x) in ds.row(i).iter().enumerate() {
                if j > 0 {
                    line.push(',');
                }
                line.push_str(&x.to_string());
            }
            if let Some(l) = ds.labels() {
                line.push(',');
                line.push_str(&l[i].to_string());
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    })
}

impl Dataset {
    /// Reads a delimited text file (`.csv` or gzip-compressed, detected by magic bytes) as
    /// described by `opts`. Blank lines are skipped.
    ///
    /// Errors ([`Error::Format`], naming line and field): a field that is not a finite
    /// number (`line 7, field 3: expected a finite number, found `abc``), a line with another
    /// number of fields than the first data line, a bad label, a value outside [0, 1] after
    /// scaling, or no data at all.
    pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<Dataset> {
        read(path, opts)
    }

    /// Writes the data set as CSV (label last, if any; no header), atomically, gzipped when
    /// the name ends in `.gz`. Read it back with `label_column: Some(LabelColumn::Last)`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write(self, path)
    }
}

checked_builder!(
    /// Builder of [`CsvOptions`] (starts from the defaults; `build()` checks every value).
    CsvOptionsBuilder for CsvOptions {
        /// Skip the first (non-blank) line.
        has_header: bool,
        /// The column holding integer class labels 0..255, if any.
        label_column: Option<LabelColumn>,
        /// Divide every value by this.
        scale: Option<f64>,
        /// The field separator (`b','`; `b'\t'` for TSV, `b';'`, ...).
        delimiter: u8,
    }
);
