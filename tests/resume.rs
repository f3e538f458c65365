//! Provenance and resume (issue 14): model files record the tool, the command, the training
//! data's fingerprint and a checksum of the weights (a damaged weight is an error naming the
//! file); `--reproducible` gives the same bytes for the same run; a run resumed from a
//! checkpoint (optimiser velocity, persistent chains or particles, generator, minibatch order,
//! schedule position) ends bit for bit where the uninterrupted run does, in the library and
//! through the CLI; a checkpoint of another configuration or data set is refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use emf_rbm::data::Dataset;
use emf_rbm::persist::{self, ModelFile};
use emf_rbm::train::{Checkpoint, Method, Schedule, TrainConfig, Trainer};
use emf_rbm::{memory, Float, Rbm, RbmParams};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emf-rbm"));
    c.env_remove(memory::ENV_VAR);
    c
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emf-rbm-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn data() -> Dataset {
    Dataset::digits().binarize(0.5).head(300)
}

fn config(method: &str, epochs: usize) -> TrainConfig {
    TrainConfig::builder()
        .n_hidden(12)
        .method(method.parse::<Method>().unwrap())
        .epochs(epochs)
        .batch_size(32)
        .learning_rate(0.1)
        .schedule(Schedule::Exponential { gamma: 0.9 })
        .seed(5)
        .build()
        .unwrap()
}

fn same_bits(a: &RbmParams, b: &RbmParams) -> bool {
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    (a.n_visible, a.n_hidden) == (b.n_visible, b.n_hidden)
        && bits(&a.w) == bits(&b.w)
        && bits(&a.a) == bits(&b.a)
        && bits(&a.b) == bits(&b.b)
}

/// 2 epochs with a checkpoint, then resumed to 4, against 4 uninterrupted epochs.
fn resumed_equals_uninterrupted<T: Float>(method: &str) {
    let d = tmpdir(&format!("lib-{method}-{}", T::NAME));
    let train = data();
    let whole = Trainer::<T>::new(config(method, 4))
        .fit(&train, None)
        .unwrap();
    let path = d.join("m.checkpoint.json");
    Trainer::<T>::new(config(method, 2))
        .with_observer(Checkpoint::new(2, &path).unwrap())
        .fit(&train, None)
        .unwrap();
    let checkpoint = persist::load_model_file(&path).unwrap();
    let state = checkpoint.train_state.as_ref().unwrap();
    assert_eq!(state.epochs_done, 2);
    let persistent = method.starts_with('p');
    assert_eq!(state.phase.is_some(), persistent, "{method}");
    let resumed = Trainer::<T>::new(config(method, 4))
        .resume(&checkpoint, &train, None)
        .unwrap();
    assert!(
        same_bits(&RbmParams::from(&whole.rbm), &RbmParams::from(&resumed.rbm)),
        "{method} {}: the resumed run's parameters differ from the uninterrupted run's",
        T::NAME
    );
    assert_eq!(resumed.history.epochs_trained, 4);
    let epochs: Vec<usize> = resumed.history.epochs.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, [1, 2, 3, 4]);
    let lr = |h: &emf_rbm::train::History| h.epochs[3].learning_rate;
    assert_eq!(lr(&resumed.history), lr(&whole.history));
}

#[test]
fn a_resumed_run_is_bit_identical_to_the_uninterrupted_one() {
    for method in ["cd1", "pcd1", "tap2", "ptap2"] {
        resumed_equals_uninterrupted::<f64>(method);
    }
    resumed_equals_uninterrupted::<f32>("ptap2");
    resumed_equals_uninterrupted::<f32>("pcd1");
}

#[test]
fn an_incompatible_resume_is_refused_naming_what_differs() {
    let d = tmpdir("incompatible");
    let train = data();
    let path = d.join("k.checkpoint.json");
    Trainer::<f64>::new(config("pcd1", 2))
        .with_observer(Checkpoint::new(1, &path).unwrap())
        .fit(&train, None)
        .unwrap();
    let checkpoint = persist::load_model_file(&path).unwrap();
    let refuse = |cfg: TrainConfig, data: &Dataset, needle: &str| {
        let e = Trainer::<f64>::new(cfg)
            .resume(&checkpoint, data, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{needle}: {e}");
    };
    let mut other = config("pcd1", 4);
    other.n_hidden = 13;
    refuse(other, &train, "n_hidden = 12, this run asks for 13");
    refuse(
        config("cd1", 4),
        &train,
        "method = pcd1, this run asks for cd1",
    );
    refuse(config("pcd1", 4), &data().head(299), "data fingerprint");
    refuse(config("pcd1", 1), &train, "more than the 1 asked for");
    let e = Trainer::<f32>::new(config("pcd1", 4))
        .resume(&checkpoint, &train, None)
        .unwrap_err();
    assert!(e.to_string().contains("in f64, this run in f32"), "{e}");
    // A final model is not a checkpoint.
    let model = ModelFile::new(&Rbm::<f64>::zeros(64, 12).unwrap(), None);
    let e = Trainer::<f64>::new(config("pcd1", 4))
        .resume(&model, &train, None)
        .unwrap_err();
    assert!(e.to_string().contains("not a checkpoint"), "{e}");
}

#[test]
fn model_files_record_provenance_and_verify_their_weights() {
    let d = tmpdir("provenance");
    let out = d.join("m.json");
    let ok = bin()
        .args([
            "train",
            "--epochs",
            "1",
            "--quiet",
            "--seed",
            "3",
            "--out",
            s(&out),
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let file = persist::load_model_file(&out).unwrap();
    assert_eq!(file.version, persist::MODEL_VERSION);
    assert_eq!(file.tool.as_deref(), Some(persist::tool_version().as_str()));
    let command = file.command.as_deref().unwrap();
    assert!(
        command.contains("train --epochs 1") && command.contains("m.json"),
        "{command}"
    );
    let history = file.history.as_ref().unwrap();
    let digits = Dataset::digits().binarize(0.5).split(0.1, 3).unwrap().0;
    assert_eq!(history.data_fingerprint, Some(digits.fingerprint()));
    assert_eq!(
        file.weights_checksum,
        Some(persist::weights_checksum(&file.rbm))
    );
    // One weight changed by one unit in the last place: refused, naming the file.
    let text = std::fs::read_to_string(&out).unwrap();
    let w0 = file.rbm.w[0];
    let bumped = f64::from_bits(w0.to_bits() + 1);
    let damaged = text.replacen(&format!("{w0:?}"), &format!("{bumped:?}"), 1);
    assert_ne!(damaged, text);
    let bad = d.join("damaged.json");
    std::fs::write(&bad, damaged).unwrap();
    let e = persist::load_model_file(&bad).unwrap_err().to_string();
    assert!(e.contains("damaged.json") && e.contains("checksum"), "{e}");
    let err = bin().args(["eval", s(&bad)]).output().unwrap();
    assert_eq!(err.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&err.stderr).contains("do not match their checksum"));
    // Files of version 2 (no provenance, no checksum) are still read.
    let mut v2: serde_json::Value = serde_json::from_str(&text).unwrap();
    let obj = v2.as_object_mut().unwrap();
    for k in ["tool", "command", "weights_checksum"] {
        obj.remove(k);
    }
    obj.insert("version".into(), 2.into());
    let old = d.join("v2.json");
    std::fs::write(&old, serde_json::to_vec(&v2).unwrap()).unwrap();
    let read = persist::load_model_file(&old).unwrap();
    assert!(same_bits(&read.rbm, &file.rbm));
}

#[test]
fn reproducible_runs_give_identical_bytes() {
    let run = |dir: &Path| {
        let args = [
            "train",
            "--method",
            "pcd1",
            "--epochs",
            "2",
            "--quiet",
            "--reproducible",
        ];
        let ok = bin()
            .current_dir(dir)
            .args(args)
            .args(["--out", "m.json"])
            .status()
            .unwrap();
        assert!(ok.success());
        std::fs::read(dir.join("m.json")).unwrap()
    };
    let (a, b) = (tmpdir("repro-a"), tmpdir("repro-b"));
    let (first, second) = (run(&a), run(&b));
    assert!(
        first == second,
        "two reproducible runs wrote different bytes"
    );
    let file: ModelFile = serde_json::from_slice(&first).unwrap();
    assert!(file.reproducible);
    assert_eq!(file.history.unwrap().train_seconds, 0.0);
}

/// `train ARGS --epochs 2 --checkpoint-every 2`, then `--resume` to 4, against 4 epochs.
fn cli_resume(method: &str, extra: &[&str]) {
    let d = tmpdir(&format!("cli-{method}"));
    let common = |c: &mut Command| {
        c.args(["train", "--method", method, "--lr-decay", "0.8"])
            .args(["--seed", "9", "--quiet"])
            .args(extra);
    };
    let whole = d.join("whole.json");
    let mut c = bin();
    common(&mut c);
    let st = c
        .args(["--hidden", "10", "--epochs", "4", "--out", s(&whole)])
        .status();
    assert!(st.unwrap().success());
    let part = d.join("part.json");
    let mut c = bin();
    common(&mut c);
    let st = c
        .args(["--hidden", "10", "--epochs", "2", "--checkpoint-every", "2"])
        .args(["--out", s(&part)])
        .status()
        .unwrap();
    assert!(st.success());
    let checkpoint = d.join("part.checkpoint.json");
    let resumed = d.join("resumed.json");
    let mut c = bin();
    common(&mut c);
    let out = c
        .args([
            "--hidden",
            "10",
            "--epochs",
            "4",
            "--resume",
            s(&checkpoint),
        ])
        .args(["--out", s(&resumed)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, r) = (
        persist::load_model_file(&whole).unwrap(),
        persist::load_model_file(&resumed).unwrap(),
    );
    assert!(
        same_bits(&w.rbm, &r.rbm),
        "{method} {extra:?}: resumed != uninterrupted"
    );
    assert_eq!(r.history.unwrap().epochs_trained, 4);
    // Another method, or more hidden units, is refused before training.
    let mut c = bin();
    common(&mut c);
    let err = c
        .args([
            "--epochs",
            "4",
            "--hidden",
            "11",
            "--resume",
            s(&checkpoint),
        ])
        .args(["--out", s(&d.join("x.json"))])
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(1));
    let text = String::from_utf8_lossy(&err.stderr);
    assert!(
        text.contains("n_hidden = 10, this run asks for 11"),
        "{text}"
    );
}

#[test]
fn the_cli_resumes_bit_for_bit() {
    cli_resume("cd1", &[]);
    cli_resume("pcd1", &[]);
    cli_resume("tap2", &[]);
    cli_resume("ptap2", &["--f32"]);
}
