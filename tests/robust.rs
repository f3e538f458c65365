//! Hostile but realistic inputs (issue 14, first part): requests too large for memory are
//! refused with the figure before anything is allocated, devices and gzip bombs are not read
//! forever, every option is checked before any work, and a run whose parameters explode while
//! staying finite stops with its epoch and step. Nothing here allocates much: the tests check
//! the estimate and the refusal, not the abort.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use emf_rbm::data::Dataset;
use emf_rbm::hamiltonian::{EffectiveHamiltonian, SpinMethod};
use emf_rbm::train::{Method, TrainConfig, Trainer, DIVERGENCE_LIMIT};
use emf_rbm::{memory, persist, rng, Error, Rbm};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_emf-rbm"));
    // The documented default cap, whatever the environment running the tests says.
    c.env_remove(memory::ENV_VAR);
    c
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emf-rbm-robust-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a command that must fail with exit code 1 (a checked error, not a usage error, an
/// abort or a panic) and returns its stderr.
fn fails(c: &mut Command) -> String {
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{c:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn run_err(args: &[&str]) -> String {
    fails(bin().args(args))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small saved model (64 visible units, the digits' size).
fn small_model(dir: &Path, scale: f64) -> PathBuf {
    let mut r = rng::rng(1);
    let mut rbm = Rbm::<f64>::random(64, 8, 0.1, &mut r).unwrap();
    if scale != 1.0 {
        for j in 0..8 {
            for i in 0..64 {
                rbm.w[(i, j)] = if (i + j) % 2 == 0 { scale } else { -scale };
            }
        }
    }
    let p = dir.join(format!("model-{scale:e}.json"));
    persist::save_rbm(&p, &rbm, None).unwrap();
    p
}

fn assert_memory_refusal(err: &str, needles: &[&str]) {
    assert!(err.contains("would need about"), "{err}");
    assert!(err.contains(memory::ENV_VAR), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n}: {err}");
    }
}

// ---- 1. memory ----

#[test]
fn the_memory_cap_parses_and_refuses_with_the_figure() {
    assert_eq!(memory::parse_size("16G"), Some(16 << 30));
    assert_eq!(memory::parse_size("unlimited"), Some(u64::MAX));
    assert_eq!(memory::DEFAULT_LIMIT, 8 << 30);
    let e = memory::check("x", 1 << 40).unwrap_err();
    assert!(matches!(e, Error::Memory { .. }), "{e}");
    assert!(e.to_string().contains("1.0 TiB"), "{e}");
    // A malformed cap names the variable.
    let err = fails(
        bin()
            .env(memory::ENV_VAR, "lots")
            .args(["train", "--epochs", "1"]),
    );
    assert!(
        err.contains(memory::ENV_VAR) && err.contains("lots"),
        "{err}"
    );
    // The cap is the variable's: a tiny one refuses an ordinary run, with both figures.
    let d = tmpdir("cap");
    let out = d.join("m.json");
    let err = fails(bin().env(memory::ENV_VAR, "64K").args([
        "train",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        s(&out),
    ]));
    assert!(err.contains("64.0 KiB"), "{err}");
    assert!(!out.exists());
}

#[test]
fn training_estimates_its_memory_before_allocating() {
    let cfg = TrainConfig::builder()
        .n_hidden(100_000_000)
        .build()
        .unwrap();
    // 4 weight-sized matrices of 64 x 10^8 f64 = 190.7 GiB, and the rest.
    let est = cfg.memory_estimate(64, 1797, 8);
    assert!(est > 4 * 64 * 100_000_000 * 8, "{est}");
    let e = cfg.check_memory(64, 1797, 8).unwrap_err();
    assert!(matches!(e, Error::Memory { .. }), "{e}");
    // The default digits run is far below the cap.
    let small = TrainConfig::builder().n_hidden(16).build().unwrap();
    assert!(small.memory_estimate(64, 1797, 8) < 10 << 20);
    assert_memory_refusal(
        &run_err(&["train", "--hidden", "100000000", "--epochs", "1", "--quiet"]),
        &["--hidden", "100000000 hidden units"],
    );
}

#[test]
fn eval_estimates_the_tap_starts_before_allocating() {
    let d = tmpdir("eval");
    let m = small_model(&d, 1.0);
    assert_memory_refusal(
        &run_err(&["eval", s(&m), "--tap-starts", "100000000"]),
        &["--tap-starts", "100000000 TAP starts"],
    );
}

#[test]
fn sample_refuses_an_image_too_large_before_sampling() {
    let d = tmpdir("sample");
    let m = small_model(&d, 1.0);
    let out = d.join("s.png");
    let err = run_err(&["sample", s(&m), "--chains", "1000000", "--out", s(&out)]);
    assert!(err.contains("pixel image is too large"), "{err}");
    assert!(!out.exists());
    // The chains themselves are estimated too (library).
    let rbm = persist::load_rbm(&m).unwrap();
    let e = emf_rbm::GibbsSampler::try_new(&rbm, usize::MAX / 4096).unwrap_err();
    assert!(matches!(e, Error::Memory { .. }), "{e}");
}

#[test]
fn ising_estimates_the_lattice_and_the_samples_before_allocating() {
    for size in ["70000", "100000"] {
        let d = tmpdir("ising");
        let out = d.join("i.idx");
        let err = run_err(&[
            "ising",
            "--size",
            size,
            "--temperature",
            "2.3",
            "--out",
            s(&out),
        ]);
        assert_memory_refusal(&err, &[&format!("{size} x {size} Ising lattice")]);
        assert!(!out.exists());
    }
    let cfg = emf_rbm::ising::IsingConfig::new(28, 2.3, 10_000);
    assert!(cfg.memory_estimate() < 1 << 30);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_header(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut h = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        h.extend(d.to_be_bytes());
    }
    h
}

#[test]
fn a_gzip_bomb_is_refused_by_its_header_and_by_the_cap() {
    let d = tmpdir("bomb");
    // The header promises 2,000,000 images of 28 x 28 (1.57 GB, 12.5 GB as f64): refused
    // from the first bytes, before the rest is decompressed.
    let bomb = d.join("bomb-images-idx3-ubyte.gz");
    let mut content = idx_header(2_000_000, 28, 28);
    content.extend(vec![0u8; 100_000]);
    std::fs::write(&bomb, gzip(&content)).unwrap();
    let err = run_err(&["train", "--data", s(&bomb), "--epochs", "1"]);
    assert_memory_refusal(&err, &["bomb-images-idx3-ubyte.gz", "1568000016 bytes"]);
    // A stream longer than its header promises stops at the promise.
    let long = d.join("long-images-idx3-ubyte.gz");
    let mut content = idx_header(10, 8, 8);
    content.extend(vec![0u8; 640 + 5000]);
    std::fs::write(&long, gzip(&content)).unwrap();
    let err = run_err(&["train", "--data", s(&long), "--epochs", "1"]);
    assert!(err.contains("long-images-idx3-ubyte.gz"), "{err}");
    assert!(
        err.contains("beyond the 656 bytes its header promises"),
        "{err}"
    );
    // Without a header to trust (CSV), decompression stops at the cap: 4 MB of zeros (4 kB
    // compressed) under a 1 MiB cap.
    let csv = d.join("zeros.csv.gz");
    std::fs::write(&csv, gzip(&vec![b'0'; 4 << 20])).unwrap();
    let err =
        fails(
            bin()
                .env(memory::ENV_VAR, "1M")
                .args(["train", "--data", s(&csv), "--epochs", "1"]),
        );
    assert!(err.contains("zeros.csv.gz"), "{err}");
    assert!(err.contains("expands beyond"), "{err}");
}

#[test]
fn devices_and_folders_are_not_read_as_data() {
    let err = run_err(&["train", "--data", "/dev/zero", "--epochs", "1"]);
    assert!(err.contains("/dev/zero: not a regular file"), "{err}");
    assert!(err.contains("may never end"), "{err}");
}

// ---- 2. every option checked up front ----

#[test]
fn bad_options_are_refused_before_any_work() {
    let d = tmpdir("options");
    let m = small_model(&d, 1.0);
    let out = d.join("out.json");
    for (args, needle) in [
        (
            vec!["train", "--lr-decay", "2", "--out", s(&out)],
            "`lr-decay`: must be in (0, 1], got 2",
        ),
        (vec!["eval", s(&m), "--tap-starts", "0"], "`tap-starts`"),
        (
            vec!["couplings", s(&m), "--tol", "nan"],
            "`tol`: the quadrature tolerance must be in [1e-15, 1e-2], got NaN",
        ),
        (vec!["couplings", s(&m), "--tol", "0.5"], "`tol`"),
        (
            vec!["couplings", s(&m), "--basis", "spin", "--max-support", "64"],
            "`max_support`: at most 26",
        ),
        (
            vec!["stack", "--subset", "0", "--out", s(&d.join("st"))],
            "`subset`: must be >= 2, got 0",
        ),
    ] {
        let err = run_err(&args);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!out.exists() && !d.join("st").exists());
    // The whole temperature list is checked before T = 2 is trained.
    let st = d.join("stack-t");
    let err = run_err(&["stack", "--temperature", "2,-1", "--out", s(&st)]);
    assert!(err.contains("got -1"), "{err}");
    assert!(!st.exists(), "nothing was written");
}

#[test]
fn validation_is_refused_with_a_mnist_folder() {
    let d = tmpdir("mnist");
    let ds = Dataset::new(vec![0.0; 10 * 16], 16, Some(vec![0; 10]))
        .unwrap()
        .with_image_shape(4, 4)
        .unwrap();
    for p in ["train", "t10k"] {
        ds.write_idx(
            &d.join(format!("{p}-images-idx3-ubyte")),
            Some(&d.join(format!("{p}-labels-idx1-ubyte"))),
        )
        .unwrap();
    }
    let err = run_err(&[
        "train",
        "--data",
        s(&d),
        "--validation",
        "5",
        "--epochs",
        "1",
        "--out",
        s(&d.join("m.json")),
    ]);
    assert!(err.contains("own test part"), "{err}");
    // eval scores such a folder's test part; a held-out fraction is refused the same way.
    let model = small_16_model(&d);
    let err = run_err(&["eval", s(&model), "--data", s(&d), "--held-out", "0.2"]);
    assert!(err.contains("own test part"), "{err}");
    let err = run_err(&["eval", s(&model), "--held-out", "0.2"]);
    assert!(err.contains("add --data"), "--held-out without data: {err}");
    let err = run_err(&["eval", s(&model), "--data", s(&d), "--split-seed", "2"]);
    assert!(err.contains("add --held-out"), "{err}");
}

/// A 16 x 3 model file, for data of 4 x 4 images.
fn small_16_model(dir: &Path) -> PathBuf {
    let rbm = Rbm::<f64>::random(16, 3, 0.1, &mut rng::rng(1)).unwrap();
    let path = dir.join("m16.json");
    persist::save_rbm(&path, &rbm, None).unwrap();
    path
}

#[test]
fn spin_couplings_refuse_exponential_or_unbounded_work() {
    let d = tmpdir("spin");
    let huge = small_model(&d, 1e308);
    let err = run_err(&["couplings", s(&huge), "--basis", "spin"]);
    assert!(err.contains("quadrature nodes"), "{err}");
    // Library: the same refusals.
    let rbm = persist::load_rbm(&huge).unwrap();
    let ham = EffectiveHamiltonian::new(&rbm);
    let e = ham
        .coupling_spin(&[0, 1], &SpinMethod::Gaussian { tol: 1e-10 })
        .unwrap_err();
    assert!(matches!(e, Error::Infeasible(_)), "{e}");
    let e = ham
        .coupling_spin(
            &[0, 1],
            &SpinMethod::Hybrid {
                max_support: 64,
                tol: 1e-10,
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("max_support"), "{e}");
    // Ordinary weights are not refused.
    let ok = small_model(&d, 1.0);
    let rbm = persist::load_rbm(&ok).unwrap();
    let ham = EffectiveHamiltonian::new(&rbm);
    assert!(ham
        .coupling_spin(&[0, 1], &SpinMethod::Gaussian { tol: 1e-10 })
        .unwrap()
        .is_finite());
}

// ---- 3. divergence that stays finite ----

#[test]
fn finite_divergence_stops_with_the_epoch_and_step() {
    let data = Dataset::digits().binarize(0.5).head(200);
    let cfg = TrainConfig::builder()
        .n_hidden(8)
        .method(Method::Cd { k: 1 })
        .learning_rate(1e300)
        .epochs(5)
        .build()
        .unwrap();
    match Trainer::<f64>::new(cfg).fit(&data, None) {
        Err(Error::Diverged {
            max_abs,
            epoch,
            step,
            ..
        }) => {
            assert!(max_abs.is_finite() && max_abs > DIVERGENCE_LIMIT);
            assert_eq!((epoch, step), (1, 0));
        }
        other => panic!("{:?}", other.map(|f| f.history.epochs_trained)),
    }
    let d = tmpdir("diverge");
    let out = d.join("d.json");
    let err = run_err(&[
        "train",
        "--lr",
        "1e300",
        "--epochs",
        "5",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert!(
        err.contains("training diverged at epoch 1, step 0"),
        "{err}"
    );
    assert!(!out.exists(), "no model is saved");
    // A sane run (the default rate, ten times over) stays far below the limit.
    let cfg = TrainConfig::builder()
        .n_hidden(8)
        .learning_rate(0.5)
        .epochs(5)
        .build()
        .unwrap();
    let fitted = Trainer::<f64>::new(cfg).fit(&data, None).unwrap();
    assert!(fitted.rbm.max_abs() < 100.0, "{}", fitted.rbm.max_abs());
}
