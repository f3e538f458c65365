//! Model files: round trip, atomic writes, wrong version/shape errors, NPZ export/import.

mod common;
use common::tmpdir;

use std::fs;

use emf_rbm::persist::{self, ModelFile};
use emf_rbm::{rng, Error, Rbm};

#[test]
fn json_round_trip_is_exact() {
    let d = tmpdir("json");
    let rbm = Rbm::<f64>::random(7, 5, 0.3, &mut rng::rng(1)).unwrap();
    let p = d.join("m.json");
    persist::save_rbm(&p, &rbm, None).unwrap();
    assert_eq!(persist::load_rbm(&p).unwrap(), rbm);
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // f32 models survive the f64 JSON exactly too.
    let r32: Rbm<f32> = rbm.cast();
    persist::save_rbm(&p, &r32, None).unwrap();
    let f = persist::load_model_file(&p).unwrap();
    assert_eq!(f.float, "f32");
    assert_eq!(f.rbm::<f32>().unwrap(), r32);
}

#[test]
fn wrong_version_format_and_shape_are_clear_errors() {
    let d = tmpdir("bad");
    let rbm = Rbm::<f64>::random(3, 2, 0.3, &mut rng::rng(1)).unwrap();
    let mut v = serde_json::to_value(ModelFile::new(&rbm, None)).unwrap();
    v["version"] = 99.into();
    let p = d.join("v.json");
    fs::write(&p, v.to_string()).unwrap();
    match persist::load_rbm(&p) {
        Err(Error::Version {
            found: 99,
            expected: persist::MODEL_VERSION,
            kind: "model file",
            ..
        }) => {}
        other => panic!("expected a version error, got {other:?}"),
    }
    let mut v = serde_json::to_value(ModelFile::new(&rbm, None)).unwrap();
    v["rbm"]["w"] = serde_json::json!([1.0, 2.0]);
    fs::write(&p, v.to_string()).unwrap();
    let e = persist::load_rbm(&p).unwrap_err().to_string();
    assert!(e.contains("w has 2 values") && e.contains("v.json"), "{e}");
    fs::write(&p, r#"{"format": "something-else", "version": 1}"#).unwrap();
    let e = persist::load_rbm(&p).unwrap_err().to_string();
    assert!(e.contains("emf-rbm model file"), "{e}");
    fs::write(&p, "{ not json").unwrap();
    let e = persist::load_rbm(&p).unwrap_err().to_string();
    assert!(e.contains("invalid JSON") && e.contains("line 1"), "{e}");
    let e = persist::load_rbm(&d.join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.json"), "{e}");
}

#[test]
fn npz_round_trip_and_errors() {
    let d = tmpdir("npz");
    let rbm = Rbm::<f64>::random(6, 4, 0.5, &mut rng::rng(2)).unwrap();
    let p = d.join("w.npz");
    persist::export_npz(&p, &rbm).unwrap();
    assert_eq!(persist::import_npz(&p).unwrap(), rbm);
    fs::write(&p, b"PK\x03\x04garbage").unwrap();
    assert!(persist::import_npz(&p)
        .unwrap_err()
        .to_string()
        .contains("w.npz"));
    fs::write(&p, b"not a zip").unwrap();
    assert!(persist::import_npz(&p).is_err());
}

#[test]
fn version_errors_name_the_kind_of_file() {
    use emf_rbm::stack::{Stack, STACK_FILE};
    let d = tmpdir("kinds");
    let rbm = Rbm::<f64>::random(4, 3, 0.3, &mut rng::rng(3)).unwrap();
    let stack = Stack::from_layers(vec![rbm.clone()]).unwrap();
    let p = d.join("s.json");
    stack.save(&p).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    v["version"] = 99.into();
    fs::write(&p, v.to_string()).unwrap();
    let e = Stack::<f64>::load(&p).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("unsupported stack file version 99") && !msg.contains("model"),
        "{msg}"
    );
    assert!(matches!(
        e,
        Error::Version {
            kind: "stack file",
            found: 99,
            ..
        }
    ));
    // A model file given where a stack file is expected (and the reverse) names both kinds.
    let m = d.join("m.json");
    persist::save_rbm(&m, &rbm, None).unwrap();
    let msg = Stack::<f64>::load(&m).unwrap_err().to_string();
    assert!(
        msg.contains("expected an emf-rbm stack file") && msg.contains("\"emf-rbm-model\""),
        "{msg}"
    );
    stack.save(&p).unwrap();
    let msg = persist::load_rbm(&p).unwrap_err().to_string();
    assert!(
        msg.contains("expected an emf-rbm model file") && msg.contains("\"emf-rbm-stack\""),
        "{msg}"
    );
    assert_eq!(STACK_FILE.name, "stack file");
}

#[test]
fn version_1_model_files_are_read_with_their_history_upgraded() {
    use emf_rbm::data::Dataset;
    use emf_rbm::train::metrics::{EmfConfig, MetricKind, MonitorConfig, TapLnZConfig};
    use emf_rbm::train::{keys, TrainConfig, Trainer};
    let d = tmpdir("v1");
    let data = Dataset::digits().binarize(0.5).head(100);
    let cfg = TrainConfig::builder()
        .n_hidden(3)
        .epochs(2)
        .build()
        .unwrap();
    let fitted = Trainer::<f64>::new(cfg).fit(&data, None).unwrap();
    let p = d.join("v2.json");
    persist::save_rbm(&p, &fitted.rbm, Some(&fitted.history)).unwrap();
    // Rewrite it in the version-1 layout: no optimizer, the old monitor fields, per-epoch
    // `extra` numbers.
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    v["version"] = 1.into();
    let h = &mut v["history"];
    h["config"].as_object_mut().unwrap().remove("optimizer");
    h["config"]["monitor"] =
        serde_json::json!({"every": 1, "subset": 1000, "exact_max_units": 15, "emf": true});
    for r in h["epochs"].as_array_mut().unwrap() {
        r["extra"] = serde_json::json!({"emf_log_likelihood": -3.5, "ln_z_tap2": 12.0});
    }
    let p1 = d.join("v1.json");
    fs::write(&p1, v.to_string()).unwrap();
    let f = persist::load_model_file(&p1).unwrap();
    assert_eq!(f.version, persist::MODEL_VERSION);
    assert_eq!(f.rbm::<f64>().unwrap(), fitted.rbm);
    let h = f.history.unwrap();
    let mut want = MonitorConfig::standard_metrics(15);
    want.push(MetricKind::EmfLogLikelihood(EmfConfig::default()).into());
    want.push(MetricKind::TapLnZ(TapLnZConfig::default()).into());
    assert_eq!(h.config.monitor.metrics, want);
    let last = h.last().unwrap();
    assert_eq!(last.get(&keys::EMF_LOG_LIKELIHOOD), Some(-3.5));
    // The old TAP number had no convergence record: it stays a plain number, not a TapValue.
    assert!(last
        .get(&keys::tap_ln_z(emf_rbm::tap::TapOrder::Tap2))
        .is_none());
    assert_eq!(
        last.value("ln_z_tap2"),
        Some(emf_rbm::train::MetricValue::Scalar(12.0))
    );
    assert_eq!(
        last.log_likelihood_train,
        fitted.history.last().unwrap().log_likelihood_train
    );
    // History files carry their own tag; a model file is not a history file.
    let hp = d.join("h.json");
    persist::save_history(&hp, &fitted.history).unwrap();
    assert_eq!(persist::load_history(&hp).unwrap(), fitted.history);
    let e = persist::load_history(&p).unwrap_err().to_string();
    assert!(e.contains("expected an emf-rbm history file"), "{e}");
}
