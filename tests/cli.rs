//! End-to-end: the `emf-rbm` binary as a user runs it.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_emf-rbm"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emf-rbm-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn train_then_eval_export_import_sample_on_builtin_digits() {
    let d = tmpdir("e2e");
    let model = d.join("m.json");
    let out = bin()
        .args([
            "train", "--data", "digits", "--hidden", "12", "--method", "pcd1", "--epochs", "3",
            "--seed", "5", "--log", "--out",
        ])
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("held-out LL"));

    let out = bin()
        .args(["eval", "--json", "--data", "digits"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    assert_eq!(v["n_visible"], 64);
    assert_eq!(v["n_hidden"], 12);
    let f = v["mean_free_energy"].as_f64().unwrap();
    let ln_z = v["ln_z_exact"].as_f64().unwrap();
    let ll = v["log_likelihood_exact"].as_f64().unwrap();
    assert!((ll - (-f - ln_z)).abs() < 1e-9);
    assert!(ll < 0.0 && ll > -40.0, "{ll}");

    // Model-only evaluation.
    let out = bin().args(["eval", "--json"]).arg(&model).output().unwrap();
    let v2: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v2["ln_z_exact"], v["ln_z_exact"]);
    assert!(v2["mean_free_energy"].is_null());

    // NPZ export -> import gives the same model.
    let npz = d.join("m.npz");
    let model2 = d.join("m2.json");
    assert!(bin()
        .arg("export")
        .arg(&model)
        .arg("--npz")
        .arg(&npz)
        .status()
        .unwrap()
        .success());
    assert!(bin()
        .args(["import", "--npz"])
        .arg(&npz)
        .arg("--out")
        .arg(&model2)
        .status()
        .unwrap()
        .success());
    let a = emf_rbm::persist::load_rbm(&model).unwrap();
    let b = emf_rbm::persist::load_rbm(&model2).unwrap();
    assert_eq!(a, b);

    let png = d.join("s.png");
    let out = bin()
        .arg("sample")
        .arg(&model)
        .args(["--chains", "16", "--steps", "50", "--out"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn bad_arguments_give_usage_errors() {
    let out = bin().args(["train", "--hidden", "abc"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'abc'"));
    let out = bin().args(["train", "--method", "foo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown method"));
    let out = bin().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Bad input files are reported with their name and a non-zero exit, not a panic.
    let d = tmpdir("bad");
    let f = d.join("broken.csv");
    std::fs::write(&f, "0,1,0\n1,x,0\n").unwrap();
    let out = bin()
        .args(["train", "--epochs", "1", "--data"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.csv") && err.contains("line 2"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    let out = bin()
        .args(["eval", "/nonexistent/model.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/model.json"));
    let out = bin()
        .args(["train", "--lr=-1", "--epochs", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("learning_rate"));
}

#[test]
fn tap_training_and_tap_estimates_from_the_cli() {
    let d = tmpdir("tap");
    let model = d.join("t.json");
    let out = bin()
        .args([
            "train",
            "--method",
            "tap3",
            "--sweeps",
            "5",
            "--damping",
            "0.3",
            "--hidden",
            "10",
        ])
        .args(["--epochs", "3", "--emf", "--log", "--out"])
        .arg(&model)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("sweeps=5.0000") && err.contains("emf_log_likelihood="),
        "{err}"
    );
    let f = emf_rbm::persist::load_model_file(&model).unwrap();
    match &f.history.unwrap().config.method {
        emf_rbm::train::Method::Tap(t) => assert_eq!((t.sweeps, t.damping), (5, 0.3)),
        other => panic!("expected a TAP method, got {other:?}"),
    }
    let out = bin()
        .args(["eval", "--json", "--data", "digits"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let exact = v["ln_z_exact"].as_f64().unwrap();
    for k in ["ln_z_mf", "ln_z_tap2", "ln_z_tap3"] {
        let est = v[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {v}"));
        // A lightly trained 10-unit model is weakly coupled: every order is close, and naive
        // mean field is a lower bound on ln Z.
        assert!((est - exact).abs() < 1.0, "{k} = {est}, exact {exact}");
    }
    assert!(v["ln_z_mf"].as_f64().unwrap() <= exact + 1e-9);
    assert!(v["emf_log_likelihood"].as_f64().unwrap() < 0.0);
    // Solver options on a sampled method are refused.
    let out = bin()
        .args(["train", "--method", "cd1", "--sweeps", "4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TAP methods only"));
}
