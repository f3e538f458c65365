//! Output files: the one atomic writer every file of emf-rbm goes through, and the checks of
//! output paths made before any work starts.
//!
//! [`write_atomic`] (and its streaming form [`write_with`]) creates a temporary file with a
//! random name in the target's folder, exclusively (`O_CREAT | O_EXCL`: a planted symlink or
//! file at that name is never followed or reused), writes it, syncs it to disk, renames it over
//! the target and syncs the folder. A reader sees the old file or the new one, never a
//! half-written one, even after a crash or a full disk. The temporary file is removed when the
//! write fails and, once [`remove_temp_files_on_signals`] was called (the command-line tool
//! does), when the process is interrupted by SIGINT, SIGTERM or SIGHUP.
//!
//! [`OutputPlan`] lists a command's inputs and outputs and checks them before the work: an
//! output is not one of the inputs, an existing output is a regular file (not a device, a pipe
//! or a folder), and its folder exists and accepts new files.
//!
//! ```
//! use emf_rbm::output::{write_atomic, OutputPlan};
//! let dir = std::env::temp_dir().join(format!("emf-rbm-doc-output-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let out = dir.join("table.txt");
//! OutputPlan::new().file(&out).check()?;
//! write_atomic(&out, b"hello\n")?;
//! assert_eq!(std::fs::read(&out)?, b"hello\n");
//! // An output that is also an input is refused.
//! let err = OutputPlan::new().input(&out).file(&out).check().unwrap_err();
//! assert!(err.to_string().contains("also an input"), "{err}");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

/// Temporary files being written, removed by the signal handler.
static LIVE_TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The registry of live temporary files (a poisoned lock still holds a valid list).
fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_TEMP_FILES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How many random names [`TempFile::create`] tries before giving up (a name is taken only
/// when something else already sits at it).
const NAME_ATTEMPTS: usize = 16;

/// A temporary file in the target's folder, registered while it lives; dropped without
/// [`TempFile::persist`] it is removed.
struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// Creates `.<name>.<16 hex digits>.tmp` in `dir` exclusively, the digits from `next_name`.
    fn create(dir: &Path, name: &str, next_name: &mut dyn FnMut() -> u64) -> io::Result<Self> {
        let mut last = None;
        for _ in 0..NAME_ATTEMPTS {
            let path = dir.join(format!(".{name}.{:016x}.tmp", next_name()));
            // Registered under the lock before it exists: a signal handler that holds the lock
            // either sees it or runs before it is created.
            let mut registry = live();
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    registry.push(path.clone());
                    return Ok(TempFile {
                        path,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no temporary name tried")))
    }

    /// Syncs the content, renames the file over `target` and syncs the folder.
    fn persist(mut self, target: &Path, dir: &Path) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        {
            let mut registry = live();
            fs::rename(&self.path, target)?;
            registry.retain(|p| p != &self.path);
        }
        sync_folder(dir)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let mut registry = live();
        if let Some(k) = registry.iter().position(|p| p == &self.path) {
            registry.swap_remove(k);
            self.file = None;
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_folder(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_folder(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// A random 64-bit name part (from the thread RNG, seeded by the operating system).
fn random_name() -> u64 {
    rand::random()
}

/// The folder of `path` (`.` for a bare name) and its file name.
fn split(path: &Path) -> Result<(PathBuf, String)> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::output(path, "not a file path (it has no file name)"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// Refuses an existing `path` that is not a regular file: a device, a pipe, a folder, or a
/// symbolic link (the rename would replace the link itself, and a link such as `/dev/stdout`
/// may point anywhere).
fn refuse_special(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::output(
            path,
            format!(
                "it is a symbolic link (to {}): outputs are written as new regular files, \
                 which would replace the link itself; give the path of its target instead \
                 (the commands that print text accept `-` for standard output)",
                fs::read_link(path).map_or_else(|e| e.to_string(), |t| t.display().to_string())
            ),
        )),
        Ok(meta) if !meta.is_file() => Err(Error::output(
            path,
            format!(
                "it is {}, not a regular file: outputs are written as regular files (the \
                 commands that print text accept `-` for standard output)",
                describe_kind(&meta)
            ),
        )),
        _ => Ok(()),
    }
}

/// `a folder`, `a device`, `a named pipe (FIFO)`, ...
fn describe_kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    if t.is_file() {
        return "a regular file, not a folder";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Writes `bytes` to `path` atomically (see the [module](self) documentation): the old file
/// or the complete new one, never a mix; no temporary file is left behind on error. An
/// existing `path` that is not a regular file (a device, a pipe, a folder) is refused.
///
/// ```
/// let p = std::env::temp_dir().join(format!("emf-rbm-doc-atomic-{}.txt", std::process::id()));
/// emf_rbm::output::write_atomic(&p, b"one")?;
/// emf_rbm::output::write_atomic(&p, b"two")?;
/// assert_eq!(std::fs::read(&p)?, b"two");
/// # std::fs::remove_file(&p)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] with the content streamed by `fill` (through a buffer): an error from
/// `fill` leaves the old file untouched and removes the temporary file.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    write_with_names(path, fill, &mut random_name)
}

fn write_with_names(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    next_name: &mut dyn FnMut() -> u64,
) -> Result<()> {
    let (dir, name) = split(path)?;
    refuse_special(path)?;
    let mut temp = TempFile::create(&dir, &name, next_name).map_err(|e| {
        Error::output(
            path,
            format!("cannot create a file in the folder {}: {e}", dir.display()),
        )
    })?;
    let written = (|| -> io::Result<()> {
        let file = temp
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("closed"))?;
        let mut buf = BufWriter::with_capacity(1 << 16, file);
        fill(&mut buf)?;
        buf.flush()
    })();
    written.map_err(|e| Error::io(path, e))?;
    temp.persist(path, &dir).map_err(|e| Error::io(path, e))
}

/// Removes the temporary files being written when the process receives SIGINT, SIGTERM or
/// SIGHUP, then lets the signal end the process as it would have (same exit status). Installed
/// once per process (later calls do nothing); the command-line tool calls it at start. A
/// library user who handles these signals itself should not call it. A no-op off Unix.
pub fn remove_temp_files_on_signals() -> Result<()> {
    #[cfg(unix)]
    {
        static INSTALLED: std::sync::OnceLock<std::result::Result<(), String>> =
            std::sync::OnceLock::new();
        INSTALLED
            .get_or_init(install_signal_cleanup)
            .clone()
            .map_err(|e| Error::param("signals", e))
    }
    #[cfg(not(unix))]
    Ok(())
}

#[cfg(unix)]
fn install_signal_cleanup() -> std::result::Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    std::thread::Builder::new()
        .name("emf-rbm-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // The lock is kept until the process ends: no new temporary file appears.
                let registry = live();
                for p in registry.iter() {
                    let _ = fs::remove_file(p);
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

/// A command's inputs and outputs, checked together before the work starts
/// ([`OutputPlan::check`]).
#[derive(Clone, Debug, Default)]
pub struct OutputPlan {
    inputs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    folders: Vec<PathBuf>,
}

impl OutputPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// A file the command reads (it must not be overwritten).
    pub fn input(mut self, path: impl Into<PathBuf>) -> Self {
        self.inputs.push(path.into());
        self
    }

    /// Files the command reads.
    pub fn inputs(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.inputs.extend(paths);
        self
    }

    /// A file the command writes. Its folder must exist (or be an output folder of the plan).
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Files the command writes.
    pub fn files(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.files.extend(paths);
        self
    }

    /// A folder the command writes files into, created if missing (its nearest existing
    /// ancestor must then accept new entries).
    pub fn folder(mut self, path: impl Into<PathBuf>) -> Self {
        self.folders.push(path.into());
        self
    }

    /// Checks every output, naming the path and the reason of the first refusal: an existing
    /// output must be a regular file (an output folder: a folder), must not be one of the
    /// inputs or another output, and its folder must exist and accept a new file (probed by
    /// creating and removing an exclusive temporary file there).
    pub fn check(&self) -> Result<()> {
        for dir in &self.folders {
            check_folder(dir)?;
        }
        let inputs: Vec<PathBuf> = self.inputs.iter().filter_map(|p| identity(p)).collect();
        let mut seen: Vec<PathBuf> = Vec::new();
        for file in &self.files {
            let (dir, _) = split(file)?;
            refuse_special(file)?;
            let id = identity(file).unwrap_or_else(|| file.clone());
            if inputs.contains(&id) {
                return Err(Error::output(
                    file,
                    "it is also an input of this command: writing it would destroy the input; \
                     choose another output path",
                ));
            }
            if seen.contains(&id) {
                return Err(Error::output(
                    file,
                    "given twice as an output of this command",
                ));
            }
            seen.push(id);
            if !self.folders.iter().any(|f| same_folder(f, &dir)) {
                probe_folder(&dir, file)?;
            }
        }
        Ok(())
    }
}

/// The canonical path of `path` when it exists, or of its folder joined with its name when
/// only the folder does (the same file reached by two spellings compares equal).
fn identity(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = fs::canonicalize(path) {
        return Some(p);
    }
    let (dir, name) = split(path).ok()?;
    Some(fs::canonicalize(dir).ok()?.join(name))
}

fn same_folder(a: &Path, b: &Path) -> bool {
    a == b || matches!((identity(a), identity(b)), (Some(x), Some(y)) if x == y)
}

/// An output folder: an existing one must be a folder that accepts files; a missing one needs
/// its nearest existing ancestor to be a folder that accepts new entries.
fn check_folder(dir: &Path) -> Result<()> {
    let mut existing = dir.to_path_buf();
    loop {
        match fs::metadata(&existing) {
            Ok(meta) if meta.is_dir() => break,
            Ok(meta) => {
                return Err(Error::output(
                    dir,
                    format!(
                        "cannot be an output folder: {} is {}",
                        existing.display(),
                        describe_kind(&meta)
                    ),
                ))
            }
            Err(_) => match existing.parent() {
                Some(p) if !p.as_os_str().is_empty() => existing = p.to_path_buf(),
                _ => {
                    existing = PathBuf::from(".");
                    break;
                }
            },
        }
    }
    probe_folder(&existing, dir)
}

/// Creates and removes an exclusive temporary file in `dir`, the folder of output `output`.
fn probe_folder(dir: &Path, output: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(meta) => {
            return Err(Error::output(
                output,
                format!("its folder {} is {}", dir.display(), describe_kind(&meta)),
            ))
        }
        Err(e) => {
            return Err(Error::output(
                output,
                format!(
                    "its folder {} does not exist or cannot be read: {e}",
                    dir.display()
                ),
            ))
        }
    }
    TempFile::create(dir, "write-probe", &mut random_name)
        .map(drop)
        .map_err(|e| {
            Error::output(
                output,
                format!("cannot create a file in the folder {}: {e}", dir.display()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("emf-rbm-output-{name}-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Something planted at the first temporary name (here a symlink to a victim file) is
    /// neither followed nor reused: the writer takes the next name.
    #[cfg(unix)]
    #[test]
    fn a_planted_temp_name_is_skipped_not_followed() {
        let d = tmpdir("planted");
        let victim = d.join("victim.txt");
        fs::write(&victim, "precious").unwrap();
        let target = d.join("out.json");
        let mut names = [7u64, 8].into_iter();
        let planted = d.join(format!(".out.json.{:016x}.tmp", 7));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        write_with_names(&target, |w| w.write_all(b"new"), &mut || {
            names.next().unwrap()
        })
        .unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert!(fs::symlink_metadata(&planted).unwrap().is_symlink());
        let second = d.join(format!(".out.json.{:016x}.tmp", 8));
        assert!(!second.exists());
        assert!(!live().contains(&second));
        fs::remove_dir_all(&d).unwrap();
    }
}
