//! Output files (issue 14, "lost or damaged files"): every output goes through the one atomic
//! writer (a new inode renamed over the target, its temporary file removed on error and on
//! SIGTERM), output paths are checked before any work (not an input, not a device, a pipe or a
//! link, a folder that accepts files; `-` is standard output for model files), checkpoints
//! never replace a file they did not write, and error messages escape the control characters
//! they echo. The hostile inputs are made here; nothing is timed.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use emf_rbm::data::Dataset;
use emf_rbm::output::{self, OutputPlan};
use emf_rbm::train::Checkpoint;
use emf_rbm::{memory, persist, rng, Error, Rbm};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emf-rbm"));
    c.env_remove(memory::ENV_VAR);
    c
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emf-rbm-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs a command that must fail with a checked error (exit code 1) and returns its stderr.
fn fails(c: &mut Command) -> String {
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{c:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Runs a command that must succeed and returns its stdout.
fn succeeds(c: &mut Command) -> Vec<u8> {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A refusal made before any training: the error names the path, the run printed no training.
fn refused_before_work(c: &mut Command, path: &Path, reason: &str) -> String {
    let err = fails(c);
    assert!(err.contains(s(path)), "{err}");
    assert!(err.contains(reason), "{reason}: {err}");
    assert!(
        !err.contains("training "),
        "refused only after training: {err}"
    );
    err
}

/// Names in a folder other than `keep`.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

fn small_model(dir: &Path) -> PathBuf {
    let mut r = rng::rng(1);
    let rbm = Rbm::<f64>::random(16, 4, 0.1, &mut r).unwrap();
    let p = dir.join("model.json");
    persist::save_rbm(&p, &rbm, None).unwrap();
    p
}

// ---- the atomic writer ----

#[test]
fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file() {
    let d = tmpdir("failed-write");
    let target = d.join("out.json");
    std::fs::write(&target, "OLD").unwrap();
    let err = output::write_with(&target, |w| {
        w.write_all(b"half of the new con")?;
        Err(std::io::Error::other("disk full"))
    })
    .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert!(err.to_string().contains("out.json"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "OLD");
    assert_eq!(leftovers(&d, &["out.json"]), Vec::<String>::new());
}

/// Writing a new inode and renaming it over the target, a hard link to the old file keeps the
/// old content; a writer that writes in place (as plotters' file backends did) changes it.
fn assert_replaced_not_overwritten(target: &Path, run: &mut Command) {
    std::fs::write(target, "OLD").unwrap();
    let link = target.with_file_name(format!(
        "link-{}",
        target.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&link);
    std::fs::hard_link(target, &link).unwrap();
    succeeds(run);
    assert!(
        std::fs::read(&link).unwrap() == b"OLD",
        "{} was written in place",
        target.display()
    );
    assert_ne!(std::fs::read(target).unwrap(), b"OLD");
}

#[test]
fn every_kind_of_output_goes_through_the_atomic_writer() {
    let d = tmpdir("every-output");
    let model = small_model(&d);
    let json = d.join("m.json");
    assert_replaced_not_overwritten(
        &json,
        bin().args(["train", "--epochs", "1", "--quiet", "--out", s(&json)]),
    );
    let png = d.join("f.png");
    let json2 = d.join("m2.json");
    assert_replaced_not_overwritten(
        &png,
        bin()
            .args(["train", "--epochs", "1", "--quiet", "--filters", s(&png)])
            .args(["--out", s(&json2)]),
    );
    assert!(std::fs::read(&png)
        .unwrap()
        .starts_with(b"\x89PNG\r\n\x1a\n"));
    for ext in ["png", "svg"] {
        let out = d.join(format!("samples.{ext}"));
        assert_replaced_not_overwritten(
            &out,
            bin()
                .args(["sample", s(&model), "--chains", "4", "--steps", "2"])
                .args(["--out", s(&out)]),
        );
    }
    let npz = d.join("m.npz");
    assert_replaced_not_overwritten(&npz, bin().args(["export", s(&model), "--npz", s(&npz)]));
    let imported = d.join("imported.json");
    assert_replaced_not_overwritten(
        &imported,
        bin().args(["import", "--npz", s(&npz), "--out", s(&imported)]),
    );
    let idx = d.join("ising.idx.gz");
    assert_replaced_not_overwritten(
        &idx,
        bin()
            .args([
                "ising",
                "--size",
                "4",
                "--temperature",
                "3",
                "--samples",
                "8",
            ])
            .args(["--spacing", "1", "--burn-in", "2", "--out", s(&idx)]),
    );
    assert_eq!(Dataset::read_idx(&idx).unwrap().n_samples(), 8);
    let heat = d.join("couplings.png");
    assert_replaced_not_overwritten(
        &heat,
        bin().args(["couplings", s(&model), "--out", s(&heat)]),
    );
    // CSV and text tables: the compare folder's files.
    let cmp = d.join("cmp");
    std::fs::create_dir_all(&cmp).unwrap();
    for name in ["history_cd1.csv", "table.txt", "ll_vs_epoch.png"] {
        assert_replaced_not_overwritten(
            &cmp.join(name),
            bin()
                .args(["compare", "--methods", "cd1", "--epochs", "1", "--quiet"])
                .args(["--out", s(&cmp)]),
        );
    }
    // No temporary file is left anywhere.
    let stray: Vec<String> = leftovers(&d, &[])
        .into_iter()
        .chain(leftovers(&cmp, &[]))
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

/// What the child prints on a line of its own once its write is under way.
const READY: &str = "EMF_RBM_CHILD_WRITING";

/// The child half of the signal test: blocks in the middle of an atomic write (after printing
/// [`READY`]), until the parent sends SIGTERM. Runs only when the parent sets the variable.
#[test]
#[ignore = "helper process of an_interrupted_write_removes_its_temporary_file"]
fn child_blocked_in_the_middle_of_a_write() {
    let Ok(dir) = std::env::var("EMF_RBM_TEST_CHILD_DIR") else {
        return;
    };
    output::remove_temp_files_on_signals().unwrap();
    let target = Path::new(&dir).join("out.json");
    let _ = output::write_with(&target, |w| {
        w.write_all(b"partial")?;
        w.flush()?;
        println!("\n{READY}");
        std::io::stdout().flush()?;
        loop {
            std::thread::park();
        }
    });
}

#[cfg(unix)]
#[test]
fn an_interrupted_write_removes_its_temporary_file() {
    use std::os::unix::process::ExitStatusExt;
    let d = tmpdir("signal");
    std::fs::write(d.join("out.json"), "OLD").unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_blocked_in_the_middle_of_a_write", "--exact"])
        .args(["--ignored", "--nocapture", "--test-threads", "1"])
        .env("EMF_RBM_TEST_CHILD_DIR", &d)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    assert!(
        lines.any(|l| l.unwrap().trim() == READY),
        "the child never reached the write"
    );
    // The temporary file exists while the write blocks.
    let temps = leftovers(&d, &["out.json"]);
    assert_eq!(temps.len(), 1, "{temps:?}");
    assert!(temps[0].starts_with(".out.json.") && temps[0].ends_with(".tmp"));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert_eq!(leftovers(&d, &["out.json"]), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(d.join("out.json")).unwrap(), "OLD");
}

// ---- output paths checked before the work ----

#[test]
fn an_output_that_is_an_input_is_refused() {
    let d = tmpdir("output-input");
    let csv = d.join("v.csv");
    std::fs::write(&csv, "0,1\n1,0\n0,1\n1,1\n0,0\n1,1\n0,1\n1,0\n0,0\n1,1\n").unwrap();
    let before = std::fs::read(&csv).unwrap();
    let err = refused_before_work(
        bin().args(["train", "--data", s(&csv), "--out", s(&csv), "--quiet"]),
        &csv,
        "also an input",
    );
    assert!(err.contains("error: output"), "{err}");
    // The same file by another spelling.
    let other = d.join(".").join("v.csv");
    refused_before_work(
        bin().args(["train", "--data", s(&csv), "--out", s(&other), "--quiet"]),
        &other,
        "also an input",
    );
    assert_eq!(std::fs::read(&csv).unwrap(), before);
    let model = small_model(&d);
    let before = std::fs::read(&model).unwrap();
    refused_before_work(
        bin().args(["export", s(&model), "--npz", s(&model)]),
        &model,
        "also an input",
    );
    refused_before_work(
        bin().args(["sample", s(&model), "--out", s(&model)]),
        &model,
        "also an input",
    );
    assert_eq!(std::fs::read(&model).unwrap(), before);
    // In the library.
    let e = OutputPlan::new()
        .input(&csv)
        .file(&csv)
        .check()
        .unwrap_err();
    assert!(matches!(e, Error::Output { .. }), "{e}");
}

#[cfg(unix)]
#[test]
fn devices_pipes_links_and_folders_are_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let d = tmpdir("special");
    let fifo = d.join("fifo");
    let device = d.join("null");
    let link = d.join("stdout");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A character device like /dev/null, made here so that a failure cannot damage /dev.
    let have_device = Command::new("mknod")
        .args([s(&device), "c", "1", "3"])
        .status()
        .is_ok_and(|st| st.success());
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let cases: Vec<(&Path, &str)> = [
        (fifo.as_path(), "named pipe"),
        (link.as_path(), "symbolic link"),
        (d.as_path(), "folder"),
    ]
    .into_iter()
    .chain(have_device.then_some((device.as_path(), "a device")))
    .collect();
    if !have_device {
        eprintln!("mknod refused here: the device case is covered by the pipe and the link");
    }
    for (path, kind) in cases {
        refused_before_work(
            bin().args(["train", "--epochs", "1", "--quiet", "--out", s(path)]),
            path,
            kind,
        );
        refused_before_work(
            bin().args([
                "ising",
                "--size",
                "4",
                "--temperature",
                "3",
                "--out",
                s(path),
            ]),
            path,
            kind,
        );
    }
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    if have_device {
        assert!(std::fs::metadata(&device)
            .unwrap()
            .file_type()
            .is_char_device());
    }
    // The writer refuses them too (a library caller without a plan).
    let e = output::write_atomic(&fifo, b"x").unwrap_err();
    assert!(e.to_string().contains("named pipe"), "{e}");
}

#[test]
fn a_dash_writes_model_files_to_standard_output() {
    let d = tmpdir("stdout");
    let out = succeeds(bin().args(["train", "--epochs", "1", "--quiet", "--out", "-"]));
    let file: persist::ModelFile = serde_json::from_slice(&out).unwrap();
    assert_eq!((file.rbm.n_visible, file.rbm.n_hidden), (64, 16));
    assert!(file.history.is_some());
    assert!(!Path::new("-").exists());
    let model = small_model(&d);
    let npz = d.join("m.npz");
    succeeds(bin().args(["export", s(&model), "--npz", s(&npz)]));
    let out = succeeds(bin().args(["import", "--npz", s(&npz), "--out", "-"]));
    let file: persist::ModelFile = serde_json::from_slice(&out).unwrap();
    assert_eq!(file.rbm.n_visible, 16);
    // A binary output does not take `-`: it is a file named `-` checked like any other, and a
    // checkpoint needs a file next to which it is written.
    let err = fails(bin().args(["train", "--out", "-", "--checkpoint-every", "1"]));
    assert!(err.contains("checkpoint-every"), "{err}");
}

#[test]
fn a_missing_or_unwritable_output_folder_is_refused_before_training() {
    let d = tmpdir("folders");
    let missing = d.join("no-such-folder").join("m.json");
    refused_before_work(
        bin().args(["train", "--epochs", "1", "--quiet", "--out", s(&missing)]),
        &missing,
        "does not exist",
    );
    // Under a regular file: no folder can be made there, not even by root.
    let file = d.join("plain.txt");
    std::fs::write(&file, "x").unwrap();
    let under = file.join("cmp");
    refused_before_work(
        bin().args([
            "compare",
            "--methods",
            "cd1",
            "--epochs",
            "1",
            "--out",
            s(&under),
        ]),
        &under,
        "regular file, not a folder",
    );
    refused_before_work(
        bin()
            .args([
                "stack",
                "--layers",
                "4",
                "--ising-size",
                "4",
                "--samples",
                "20",
            ])
            .args(["--out", s(&under)]),
        &under,
        "regular file, not a folder",
    );
    refused_before_work(
        bin().args(["demo", "--epochs", "1", "--out", s(&under)]),
        &under,
        "regular file, not a folder",
    );
    // A folder that exists but takes no new file. The tests run as root, whom a read-only mode
    // does not stop; /proc refuses new files to everyone.
    if Path::new("/proc/self").is_dir() {
        let p = Path::new("/proc/emf-rbm-test.json");
        refused_before_work(
            bin().args(["train", "--epochs", "1", "--quiet", "--out", s(p)]),
            p,
            "cannot create a file in the folder /proc",
        );
    } else {
        eprintln!("no /proc here: the unwritable-folder case is not run");
    }
    // Two outputs at one path.
    let twice = d.join("m.png");
    refused_before_work(
        bin()
            .args(["train", "--epochs", "1", "--quiet", "--filters", s(&twice)])
            .args(["--out", s(&twice)]),
        &twice,
        "given twice",
    );
}

// ---- checkpoints ----

#[test]
fn checkpoints_never_replace_a_file_they_did_not_write() {
    let d = tmpdir("checkpoints");
    // The command: a diverging run must not touch the good old file at --out.
    let k = d.join("k.json");
    std::fs::write(&k, "OLD\n").unwrap();
    let err = fails(
        bin()
            .args(["train", "--lr", "1000", "--method", "tap2", "--epochs", "3"])
            .args(["--checkpoint-every", "1", "--quiet", "--out", s(&k)]),
    );
    assert!(
        err.contains("diverged") || err.contains("non-finite"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&k).unwrap(), "OLD\n");
    // A healthy run checkpoints to its own file; --out gets the final model with its history.
    let good = d.join("good.json");
    succeeds(
        bin()
            .args([
                "train",
                "--epochs",
                "2",
                "--checkpoint-every",
                "1",
                "--quiet",
            ])
            .args(["--out", s(&good)]),
    );
    let checkpoint = d.join("good.checkpoint.json");
    assert_eq!(Checkpoint::path_for(&good), checkpoint);
    assert!(persist::load_model_file(&good).unwrap().history.is_some());
    persist::load_model_file(&checkpoint).unwrap();
    // A file at the checkpoint's name that this run did not write is refused before training
    // (here the previous run's checkpoint), and left as it was.
    let before = std::fs::read(&checkpoint).unwrap();
    refused_before_work(
        bin()
            .args([
                "train",
                "--epochs",
                "2",
                "--checkpoint-every",
                "1",
                "--quiet",
            ])
            .args(["--out", s(&good)]),
        &checkpoint,
        "never replaces a file it did not write",
    );
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    // In the library.
    assert!(Checkpoint::new(1, &checkpoint).is_err());
    assert!(Checkpoint::new(1, d.join("fresh.checkpoint.json")).is_ok());
}

// ---- control characters in messages ----

fn assert_no_control(text: &str) {
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "raw control character in {text:?}"
    );
}

#[test]
fn messages_escape_the_control_characters_they_echo() {
    let d = tmpdir("escape");
    let csv = d.join("esc.csv");
    std::fs::write(&csv, "0,1\n1,\x1b[31mRED\x07\n").unwrap();
    let err = fails(
        bin()
            .args(["train", "--data", s(&csv), "--quiet", "--out"])
            .arg(d.join("m.json")),
    );
    assert_no_control(&err);
    assert!(err.contains("\\u{1b}[31mRED\\u{7}"), "{err}");
    assert!(err.contains("line 2, field 2"), "{err}");
    let lib = Dataset::read_csv(&csv, &Default::default())
        .unwrap_err()
        .to_string();
    assert_no_control(&lib);
    // JSON files: a format tag and a string value that the messages echo.
    let model = d.join("esc.json");
    std::fs::write(&model, "{\"format\": \"emf\\u001b[2J\", \"version\": 2}").unwrap();
    let err = fails(bin().args(["eval", s(&model)]));
    assert_no_control(&err);
    assert!(err.contains("\\u{1b}[2J"), "{err}");
    let stack = d.join("stack.json");
    std::fs::write(
        &stack,
        "{\"format\": \"emf-rbm-stack\", \"version\": 1, \"float\": \"f64\", \"layers\": \"x\\u001b[2J\"}",
    )
    .unwrap();
    let lib = emf_rbm::Stack::<f64>::load(&stack).unwrap_err().to_string();
    assert_no_control(&lib);
    // An argument on the command line.
    let good = small_model(&d);
    let err = fails(bin().args(["sample", s(&good), "--shape", "4x\x1b[31m4"]));
    assert!(err.contains("shape"), "{err}");
    assert_no_control(&err);
    let usage = bin()
        .args(["train", "--method", "cd\x1b[31m"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert_no_control(&String::from_utf8_lossy(&usage.stderr));
}
