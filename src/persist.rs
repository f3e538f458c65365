//! Saving and loading models: versioned JSON written atomically (through
//! [`crate::output::write_atomic`], re-exported here), and
//! NPZ export/import of `W` (`n_visible x n_hidden`), `a`, `b` for numpy users.

use std::fs;
use std::path::Path;

use npyz::WriterBuilder;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;
use crate::float::Float;
use crate::rbm::{Rbm, RbmParams};
use crate::train::state::TrainState;
use crate::train::History;

/// The `format` tag of model files.
pub const MODEL_FORMAT: &str = "emf-rbm-model";
/// The model file version this build writes (it also reads versions 1 and 2; see
/// [`MODEL_FILE`]). Version 3 added the provenance (`tool`, `command`), the weights'
/// checksum, the `reproducible` flag and the checkpoints' `train_state`.
pub const MODEL_VERSION: u32 = 3;
/// The `format` tag of history files.
pub const HISTORY_FORMAT: &str = "emf-rbm-history";
/// The history file version this build writes and reads.
pub const HISTORY_VERSION: u32 = 1;

/// The content of a model file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// [`MODEL_VERSION`] of the writer.
    pub version: u32,
    /// Float type the model was trained in (`f64`/`f32`); values are stored as f64.
    pub float: String,
    /// The tool that wrote the file (`emf-rbm 0.1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The command line that produced the model, when written by the command-line tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// [`weights_checksum`] of `rbm`, set when the file is written and verified when it is
    /// read (absent in files older than version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_checksum: Option<String>,
    /// The history's wall times were left out (set to 0) so that the same run gives the same
    /// bytes ([`ModelFile::reproducible`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reproducible: bool,
    /// The parameters.
    pub rbm: RbmParams,
    /// The training history (with its configuration), if the model was trained here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    /// Free-form provenance (e.g. `imported from weights.npz`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// In a checkpoint: what the run carries from one epoch to the next, for
    /// [`Trainer::resume`](crate::train::Trainer::resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_state: Option<TrainState>,
}

/// The checksum of a model's parameters: a [`Fingerprint`] of the shape and of `w`, `a`, `b`
/// as stored (16 hex digits). Not a security hash: it detects a damaged or edited value.
pub fn weights_checksum(p: &RbmParams) -> String {
    let mut f = Fingerprint::new();
    f.add_len(p.n_visible);
    f.add_len(p.n_hidden);
    for values in [&p.w, &p.a, &p.b] {
        f.add_f64s(values);
    }
    f.hex()
}

/// The tool and version written into model files.
pub fn tool_version() -> String {
    format!("emf-rbm {}", env!("CARGO_PKG_VERSION"))
}

impl ModelFile {
    /// A model file for `rbm` with an optional history.
    pub fn new<T: Float>(rbm: &Rbm<T>, history: Option<&History>) -> Self {
        ModelFile {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            float: T::NAME.into(),
            tool: Some(tool_version()),
            command: None,
            weights_checksum: None,
            reproducible: false,
            rbm: RbmParams::from(rbm),
            history: history.cloned(),
            source: None,
            train_state: None,
        }
    }

    /// The same file with the history's wall times set to 0 and the `reproducible` flag: the
    /// same run (seed, data, command) then gives the same bytes.
    pub fn reproducible(mut self) -> Self {
        self.history = self.history.map(History::without_timings);
        self.reproducible = true;
        self
    }

    /// The same file with the checksum of its current weights.
    fn with_checksum(&self) -> ModelFile {
        let mut f = self.clone();
        f.weights_checksum = Some(weights_checksum(&f.rbm));
        f
    }

    /// Refuses weights that do not match the stored checksum (when there is one).
    pub fn verify_checksum(&self, path: &Path) -> Result<()> {
        match &self.weights_checksum {
            Some(stored) if *stored != weights_checksum(&self.rbm) => Err(Error::format(
                path,
                "field `weights_checksum`",
                format!(
                    "the weights do not match their checksum (stored {stored}, computed {}): \
                     the file was damaged or edited",
                    weights_checksum(&self.rbm)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The model in the float type `T`.
    pub fn rbm<T: Float>(&self) -> Result<Rbm<T>> {
        self.rbm.to_rbm()
    }

    /// The file's bytes: indented JSON, as [`save_model_file`] writes them (for writing to
    /// standard output or a buffer).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(&self.with_checksum()).map_err(|e| Error::Json {
            path: "<model file>".into(),
            source: e,
        })
    }
}

pub use crate::output::write_atomic;

/// A kind of versioned JSON file: its name in messages, its `format` tag and the versions this
/// build writes and reads. Every versioned file of emf-rbm (model, stack, history) is a JSON
/// object with a string field `format` and an unsigned field `version`, read by
/// [`read_versioned`] and written by [`write_versioned`].
///
/// ```
/// use emf_rbm::persist::{FileKind, MODEL_FILE};
/// assert_eq!(MODEL_FILE.name, "model file");
/// assert!(MODEL_FILE.oldest <= MODEL_FILE.version);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FileKind {
    /// What the file is called in error messages (`model file`, `stack file`, ...).
    pub name: &'static str,
    /// The value of the file's `format` field.
    pub format: &'static str,
    /// The version this build writes.
    pub version: u32,
    /// The oldest version this build reads (older readable versions are upgraded by
    /// `upgrade` before they are deserialised).
    pub oldest: u32,
    /// Rewrites the JSON of a file of version `from` (`oldest <= from < version`) into the
    /// current layout; the error text says what could not be converted.
    pub upgrade: fn(value: &mut serde_json::Value, from: u32) -> std::result::Result<(), String>,
}

/// No layout change to undo (for kinds whose readable versions all share one layout).
pub fn no_upgrade(_: &mut serde_json::Value, _: u32) -> std::result::Result<(), String> {
    Ok(())
}

/// Model files ([`ModelFile`]). Version 1 files are read: their history (if any) is
/// upgraded to the typed-metrics layout (per-epoch extras become scalar metrics). Version 2
/// files have the same layout without the provenance fields (read as absent: no checksum to
/// verify).
pub const MODEL_FILE: FileKind = FileKind {
    name: "model file",
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    oldest: 1,
    upgrade: upgrade_model,
};

fn upgrade_model(value: &mut serde_json::Value, from: u32) -> std::result::Result<(), String> {
    match (from, value.get_mut("history")) {
        (1, Some(h)) if !h.is_null() => crate::train::history::upgrade_history_v1(h),
        _ => Ok(()),
    }
}

/// History files written by [`save_history`] ([`HistoryFile`]).
pub const HISTORY_FILE: FileKind = FileKind {
    name: "history file",
    format: HISTORY_FORMAT,
    version: HISTORY_VERSION,
    oldest: 1,
    upgrade: no_upgrade,
};

/// The content of a history file: a [`History`] with the format tag and version.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryFile {
    /// Always [`HISTORY_FORMAT`].
    pub format: String,
    /// [`HISTORY_VERSION`] of the writer.
    pub version: u32,
    /// The history.
    #[serde(flatten)]
    pub history: History,
}

/// Saves a training history as versioned JSON (indented), atomically.
pub fn save_history(path: &Path, history: &History) -> Result<()> {
    let file = HistoryFile {
        format: HISTORY_FORMAT.into(),
        version: HISTORY_VERSION,
        history: history.clone(),
    };
    write_versioned(path, &file, true)
}

/// Reads a history file written by [`save_history`].
pub fn load_history(path: &Path) -> Result<History> {
    Ok(read_versioned::<HistoryFile>(path, &HISTORY_FILE)?.history)
}

/// Reads a versioned JSON file of `kind`: checks the `format` tag and the version (errors name
/// the kind, e.g. "stack file"), upgrades an older readable layout, then deserialises it.
pub fn read_versioned<F: DeserializeOwned>(path: &Path, kind: &FileKind) -> Result<F> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        path: path.into(),
        source: e,
    })?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(f) if f == kind.format => {}
        other => {
            return Err(Error::format(
                path,
                "field `format`",
                format!(
                    "expected an emf-rbm {} (format \"{}\"), found {}",
                    kind.name,
                    kind.format,
                    other.map_or("no format tag".to_string(), |s| format!("\"{s}\""))
                ),
            ))
        }
    }
    let version = value
        .get("version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| {
            Error::format(
                path,
                "field `version`",
                "expected an unsigned integer version",
            )
        })?;
    if !(kind.oldest as u64..=kind.version as u64).contains(&version) {
        return Err(Error::Version {
            path: path.into(),
            kind: kind.name,
            found: version.min(u32::MAX as u64) as u32,
            oldest: kind.oldest,
            expected: kind.version,
        });
    }
    if version < kind.version as u64 {
        (kind.upgrade)(&mut value, version as u32).map_err(|what| {
            Error::format(path, format!("{} version {version}", kind.name), what)
        })?;
        value["version"] = kind.version.into();
    }
    serde_json::from_value(value).map_err(|e| Error::Json {
        path: path.into(),
        source: e,
    })
}

/// Writes `value` (which carries its own `format` and `version` fields) as JSON, atomically;
/// `pretty` indents it (small files), otherwise it is compact (large weight arrays).
pub fn write_versioned<F: Serialize>(path: &Path, value: &F, pretty: bool) -> Result<()> {
    let json = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    }
    .map_err(|e| Error::Json {
        path: path.into(),
        source: e,
    })?;
    write_atomic(path, &json)
}

/// Saves a model (and its history) as versioned JSON, atomically.
pub fn save_rbm<T: Float>(path: &Path, rbm: &Rbm<T>, history: Option<&History>) -> Result<()> {
    save_model_file(path, &ModelFile::new(rbm, history))
}

/// Saves a [`ModelFile`] atomically.
/// The checksum of the weights is written with them.
pub fn save_model_file(path: &Path, file: &ModelFile) -> Result<()> {
    write_versioned(path, &file.with_checksum(), true)
}

/// Reads a model file, checking its format tag, version, shapes and the weights' checksum.
pub fn load_model_file(path: &Path) -> Result<ModelFile> {
    let file: ModelFile = read_versioned(path, &MODEL_FILE)?;
    file.rbm
        .to_rbm::<f64>()
        .map_err(|e| Error::format(path, "field `rbm`", e.to_string()))?;
    file.verify_checksum(path)?;
    Ok(file)
}

/// Loads the model of a model file as `Rbm<f64>`.
pub fn load_rbm(path: &Path) -> Result<Rbm<f64>> {
    load_model_file(path)?.rbm()
}

/// Exports `W` (`n_visible x n_hidden`, C order), `a` and `b` as an NPZ archive (f64).
pub fn export_npz<T: Float>(path: &Path, rbm: &Rbm<T>) -> Result<()> {
    let p = RbmParams::from(rbm);
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut npz = npyz::npz::NpzWriter::new(&mut buf);
        let io = |e: std::io::Error| Error::io(path, e);
        let mut put = |name: &str, shape: &[u64], data: &[f64]| -> Result<()> {
            let mut w = npz
                .array::<f64>(name, Default::default())
                .map_err(io)?
                .default_dtype()
                .shape(shape)
                .begin_nd()
                .map_err(io)?;
            w.extend(data.iter().copied()).map_err(io)?;
            w.finish().map_err(io)
        };
        put("W", &[p.n_visible as u64, p.n_hidden as u64], &p.w)?;
        put("a", &[p.n_visible as u64], &p.a)?;
        put("b", &[p.n_hidden as u64], &p.b)?;
    }
    write_atomic(path, &buf.into_inner())
}

/// One float array of an NPZ archive: its shape, values (as f64) and whether they are in
/// Fortran order.
fn read_npz_array<R: std::io::Read + std::io::Seek>(
    npz: &mut npyz::npz::NpzArchive<R>,
    path: &Path,
    name: &str,
) -> Result<(Vec<u64>, Vec<f64>, bool)> {
    let arr = npz
        .by_name(name)
        .map_err(|e| Error::format(path, format!("array `{name}`"), e.to_string()))?
        .ok_or_else(|| {
            Error::format(
                path,
                format!("array `{name}`"),
                "missing (expected W, a and b)",
            )
        })?;
    let shape = arr.shape().to_vec();
    let fortran = arr.order() == npyz::Order::Fortran;
    let dtype = arr.dtype();
    let bad = |e: std::io::Error| Error::format(path, format!("array `{name}`"), e.to_string());
    let data: Vec<f64> = match &dtype {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 8 => {
            arr.into_vec::<f64>().map_err(bad)?
        }
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => {
            arr.into_vec::<f32>()
                .map_err(bad)?
                .into_iter()
                .map(f64::from)
                .collect()
        }
        other => {
            return Err(Error::format(
                path,
                format!("array `{name}`"),
                format!("expected float32 or float64, found dtype {}", other.descr()),
            ))
        }
    };
    Ok((shape, data, fortran))
}

/// Imports a model from an NPZ archive holding `W` (`n_visible x n_hidden`), `a` and `b`
/// (float32 or float64; C or Fortran order).
pub fn import_npz(path: &Path) -> Result<Rbm<f64>> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut npz = npyz::npz::NpzArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::format(path, "byte 0", format!("not an NPZ (zip) archive: {e}")))?;
    let mut read = |name: &str| read_npz_array(&mut npz, path, name);
    let (ws, w, fortran) = read("W")?;
    let (as_, a, _) = read("a")?;
    let (bs, b, _) = read("b")?;
    if ws.len() != 2 {
        return Err(Error::format(
            path,
            "array `W`",
            format!("expected 2 dimensions, found shape {ws:?}"),
        ));
    }
    let (nv, nh) = (ws[0] as usize, ws[1] as usize);
    if as_ != [nv as u64] || bs != [nh as u64] {
        return Err(Error::format(
            path,
            "arrays `a`, `b`",
            format!("W is {nv} x {nh}, so expected a of shape [{nv}] and b of shape [{nh}]; found {as_:?} and {bs:?}"),
        ));
    }
    let w = if fortran {
        let mut c = vec![0.0; nv * nh];
        for i in 0..nv {
            for j in 0..nh {
                c[i * nh + j] = w[j * nv + i];
            }
        }
        c
    } else {
        w
    };
    RbmParams {
        n_visible: nv,
        n_hidden: nh,
        w,
        a,
        b,
    }
    .to_rbm()
    .map_err(|e| Error::format(path, "arrays", e.to_string()))
}

/// Serde helpers that keep non-finite floats apart from "absent" in JSON: a finite value is a
/// JSON number; `+inf`, `-inf` and NaN are the strings `"inf"`, `"-inf"` and `"nan"`; `null`
/// (for `Option<f64>`) means "not computed". Use with `#[serde(with = "...")]`.
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct S {
///     #[serde(with = "emf_rbm::persist::json_float")]
///     x: f64,
///     #[serde(with = "emf_rbm::persist::json_float::option")]
///     y: Option<f64>,
/// }
/// let s = S { x: f64::NEG_INFINITY, y: None };
/// let text = serde_json::to_string(&s).unwrap();
/// assert_eq!(text, r#"{"x":"-inf","y":null}"#);
/// assert_eq!(serde_json::from_str::<S>(&text).unwrap(), s);
/// let t: S = serde_json::from_str(r#"{"x":1.5,"y":"inf"}"#).unwrap();
/// assert_eq!((t.x, t.y), (1.5, Some(f64::INFINITY)));
/// ```
pub mod json_float {
    use serde::de::{self, Deserializer, Visitor};
    use serde::Serializer;

    /// The JSON form of `x`: a number when finite, else `"inf"`, `"-inf"` or `"nan"`.
    pub fn to_json(x: f64) -> serde_json::Value {
        if x.is_finite() {
            serde_json::Value::from(x)
        } else {
            serde_json::Value::from(non_finite_name(x))
        }
    }

    fn non_finite_name(x: f64) -> &'static str {
        if x.is_nan() {
            "nan"
        } else if x > 0.0 {
            "inf"
        } else {
            "-inf"
        }
    }

    /// Serialises `x` (finite: a number; otherwise a string).
    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else {
            s.serialize_str(non_finite_name(*x))
        }
    }

    struct FloatVisitor;

    impl Visitor<'_> for FloatVisitor {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number or one of \"inf\", \"-inf\", \"nan\"")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            match v {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "nan" => Ok(f64::NAN),
                other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
            }
        }
    }

    /// Deserialises a number or one of the strings above.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(FloatVisitor)
    }

    /// The same for `Option<f64>` (`null` = `None`).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serialises `None` as `null`, `Some(x)` as [`super::serialize`] does.
        pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match x {
                Some(v) => super::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super")] f64);

        /// Deserialises `null`, a number, or one of the strings above.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
        }
    }
}
