//! Model files: round trip, atomic writes, wrong version/shape errors, NPZ export/import.

use std::fs;

use emf_rbm::persist::{self, ModelFile};
use emf_rbm::{rng, Error, Rbm};

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("emf-rbm-test-{name}-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    d
}

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
