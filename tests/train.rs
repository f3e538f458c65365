//! Training with CD-1 and PCD raises the exact held-out likelihood; runs are reproducible at
//! any thread count; divergence is reported with its step.

use emf_rbm::data::Dataset;
use emf_rbm::estimate::exact;
use emf_rbm::train::{Method, MonitorConfig, TrainConfig, Trainer};
use emf_rbm::{Error, Float, Rbm};

fn digits() -> (Dataset, Dataset) {
    Dataset::digits().binarize(0.5).split(0.2, 3).unwrap()
}

fn config(method: Method, epochs: usize) -> TrainConfig {
    TrainConfig::builder()
        .n_hidden(16)
        .method(method)
        .epochs(epochs)
        .batch_size(20)
        .learning_rate(0.05)
        .momentum(0.5)
        .seed(7)
        .build()
        .unwrap()
}

/// Exact held-out LL of the independent-pixel model the training starts from (W ~ 0).
fn baseline_ll(train: &Dataset, test: &Dataset) -> f64 {
    let mut r = emf_rbm::rng::rng(0);
    let rbm = Rbm::<f64>::init_from_means(&train.pixel_means(), 16, 0.0, 1e-3, &mut r).unwrap();
    exact::mean_log_likelihood(&rbm, test.to_mat::<f64>().as_ref()).unwrap()
}

#[test]
fn cd_and_pcd_raise_held_out_likelihood() {
    let (train, test) = digits();
    let base = baseline_ll(&train, &test);
    for method in [Method::Cd { k: 1 }, Method::Pcd { k: 1, chains: None }] {
        let fitted = Trainer::<f64>::new(config(method.clone(), 15))
            .fit(&train, Some(&test))
            .unwrap();
        let h = &fitted.history;
        let first = h.epochs[0].log_likelihood_held_out.unwrap();
        let last = h.last().unwrap().log_likelihood_held_out.unwrap();
        // The monitor's number is the exact LL of the returned model.
        let check = exact::mean_log_likelihood(&fitted.rbm, test.to_mat::<f64>().as_ref()).unwrap();
        assert!((check - last).abs() < 1e-9, "{check} vs {last}");
        eprintln!("{method}: baseline {base:.3}, epoch 1 {first:.3}, epoch 15 {last:.3}");
        // Independent pixels score about -25 nats here; a trained 16-unit RBM gains several.
        assert!(
            last > base + 3.0,
            "{method}: {last} not above baseline {base}"
        );
        assert!(
            last > first,
            "{method}: {last} not above first epoch {first}"
        );
    }
}

/// 300 rows of 784 Bernoulli(0.13) pixels (MNIST's size and density).
fn mnist_like() -> Dataset {
    use rand::Rng as _;
    let mut r = emf_rbm::rng::rng(5);
    let data: Vec<f64> = (0..300 * 784)
        .map(|_| if r.random::<f64>() < 0.13 { 1.0 } else { 0.0 })
        .collect();
    Dataset::new(data, 784, None).unwrap()
}

/// Two epochs at MNIST's size (784 x 400, batch 100): every elementwise pass (sigmoids,
/// Bernoulli draws, uniform fills, column means, the momentum step) is large enough to be
/// split over threads when there are two.
fn train_in_pool<T: Float>(threads: usize, method: Method, seed: u64) -> Rbm<T> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let train = mnist_like();
    let cfg = TrainConfig::builder()
        .n_hidden(400)
        .method(method)
        .epochs(2)
        .batch_size(100)
        .learning_rate(0.02)
        .seed(seed)
        .monitor(MonitorConfig {
            every: 0,
            ..MonitorConfig::default()
        })
        .build()
        .unwrap();
    pool.install(|| Trainer::<T>::new(cfg).fit(&train, None).unwrap().rbm)
}

#[test]
fn same_seed_gives_bit_identical_weights_at_1_and_2_threads() {
    for method in [
        Method::Cd { k: 1 },
        Method::Pcd {
            k: 2,
            chains: Some(150),
        },
    ] {
        let a = train_in_pool::<f64>(1, method.clone(), 11);
        let b = train_in_pool::<f64>(2, method.clone(), 11);
        assert!(a == b, "{method}: weights differ between 1 and 2 threads");
        let a32 = train_in_pool::<f32>(1, method.clone(), 11);
        let b32 = train_in_pool::<f32>(2, method.clone(), 11);
        assert!(
            a32 == b32,
            "{method} f32: weights differ between 1 and 2 threads"
        );
        // The comparison can fail: another seed gives other weights (at 2 threads, every
        // weight: a different initialisation and other samples).
        let c = train_in_pool::<f64>(2, method.clone(), 12);
        let differ = (0..a.n_hidden())
            .flat_map(|j| (0..a.n_visible()).map(move |i| (i, j)))
            .filter(|&(i, j)| a.w[(i, j)] != c.w[(i, j)])
            .count();
        assert_eq!(differ, a.n_visible() * a.n_hidden(), "{method}");
    }
}

#[test]
fn divergence_is_reported_with_its_step() {
    let (train, _) = digits();
    let cfg = TrainConfig::builder()
        .n_hidden(8)
        .learning_rate(f64::MAX)
        .momentum(0.9)
        .epochs(3)
        .build()
        .unwrap();
    match Trainer::<f64>::new(cfg).fit(&train, None) {
        Err(Error::NonFinite { epoch, step, what }) => {
            assert_eq!(epoch, 1);
            assert!(step < 5, "step {step}");
            assert!(what == "parameters" || what == "gradient");
        }
        other => panic!("expected a NonFinite error, got {other:?}"),
    }
}

#[test]
fn bad_configurations_are_refused() {
    assert!(TrainConfig::builder().n_hidden(0).build().is_err());
    assert!(TrainConfig::builder().batch_size(0).build().is_err());
    assert!(TrainConfig::builder().momentum(1.0).build().is_err());
    assert!(TrainConfig::builder()
        .learning_rate(f64::NAN)
        .build()
        .is_err());
    assert!(TrainConfig::builder().l2(-0.1).build().is_err());
    assert!(TrainConfig::builder()
        .method(Method::Cd { k: 0 })
        .build()
        .is_err());
    assert!("cdx".parse::<Method>().is_err());
    assert_eq!(
        "pcd3".parse::<Method>().unwrap(),
        Method::Pcd { k: 3, chains: None }
    );
    // Data of the wrong width is an error, not a panic.
    let (train, _) = digits();
    let cfg = config(Method::Cd { k: 1 }, 1);
    let rbm = Rbm::<f64>::zeros(10, 16).unwrap();
    assert!(matches!(
        Trainer::<f64>::new(cfg).fit_from(rbm, &train, None),
        Err(Error::Shape(_))
    ));
}

#[test]
fn f32_training_runs_and_tracks_f64() {
    let (train, test) = digits();
    let cfg = TrainConfig {
        seed: 1,
        ..config(Method::Cd { k: 1 }, 5)
    };
    let f64_run = Trainer::<f64>::new(cfg.clone())
        .fit(&train, Some(&test))
        .unwrap();
    let f32_run = Trainer::<f32>::new(cfg).fit(&train, Some(&test)).unwrap();
    let a = f64_run
        .history
        .last()
        .unwrap()
        .log_likelihood_held_out
        .unwrap();
    let b = f32_run
        .history
        .last()
        .unwrap()
        .log_likelihood_held_out
        .unwrap();
    assert_eq!(f32_run.history.float, "f32");
    // Same seed, same uniforms: the f32 run follows the f64 one at rounding level as long as
    // no Bernoulli draw flips (a uniform within the f32 rounding of p, ~1e-7, of p). Measured
    // over seeds 1..=30 (5 epochs, 360 updates): 29 runs without a flip, max |dW| 1.1e-6 to
    // 2.8e-6 and held-out LL within 3e-6 nats at every epoch (f32's 6e-8 relative rounding
    // random-walking over 360 updates of weights ~1: sqrt(360) x 6e-8 ~ 1e-6); one run (seed
    // 18) with a flip, after which they separate by 1e-2. Seed 7 has no flip (1.5e-6, 4e-7).
    // The bound 1e-4 is 30 times the largest rounding-level difference and 100 times below a
    // flip's; a sigmoid or GEMM of f32 accuracy worse than ~1e-5 fails it. (A change of
    // rounding can make this seed flip, ~1 chance in 30: then check a few other seeds.)
    // Since the f32 sigmoid computes in f32 (no longer through f64), `scan_f32_seeds` (run it
    // with `-- --ignored --nocapture`) gives for seeds 1..=12: seed 7 flips (dLL 3.4e-3),
    // the other 11 stay at rounding level (dLL <= 1.1e-6, dW <= 2.5e-6); seed 1: 3.8e-7, 1.2e-6.
    for (e, (x, y)) in f64_run
        .history
        .epochs
        .iter()
        .zip(&f32_run.history.epochs)
        .enumerate()
    {
        let (x, y) = (
            x.log_likelihood_held_out.unwrap(),
            y.log_likelihood_held_out.unwrap(),
        );
        assert!((x - y).abs() < 1e-4, "epoch {}: f64 {x} vs f32 {y}", e + 1);
    }
    let (w64, w32) = (&f64_run.rbm.w, &f32_run.rbm.w);
    let dw = (0..16)
        .flat_map(|j| (0..64).map(move |i| (w64[(i, j)] - f64::from(w32[(i, j)])).abs()))
        .fold(0.0, f64::max);
    eprintln!("f64 {a:.6} vs f32 {b:.6}; max |dW| {dw:.2e}");
    assert!(dw < 1e-4, "max |W_f64 - W_f32| = {dw}");
    // Not an f64 run in disguise: the weights carry f32 rounding.
    assert!(dw > 1e-8, "max |W_f64 - W_f32| = {dw}");
}

#[test]
fn gibbs_from_positive_phase_probs_equals_a_plain_run() {
    use emf_rbm::{rng, GibbsSampler};
    let rbm = Rbm::<f64>::random(30, 20, 0.4, &mut rng::rng(1)).unwrap();
    let v0 = emf_rbm::faer::Mat::from_fn(8, 30, |r, i| ((r + 2 * i) % 3 == 0) as u8 as f64);
    let ph = rbm.hidden_probs(v0.as_ref());
    for k in [1, 3] {
        let mut a = GibbsSampler::new(&rbm, 8);
        a.set_visible(v0.as_ref());
        a.run(&rbm, k, &mut rng::rng(5));
        let mut b = GibbsSampler::new(&rbm, 8);
        b.run_from_hidden_probs(&rbm, ph.as_ref(), k, &mut rng::rng(5));
        assert!(
            a.visible() == b.visible() && a.hidden_probs() == b.hidden_probs(),
            "k = {k}"
        );
    }
}

/// The sampled phases compute the weight gradient data minus chains as ONE GEMM over the
/// stacked rows (`weight_gradient_from`, what the trainer calls): it must equal the two-GEMM
/// form `V^T P / B` then `subtract_model_statistics` with the same random draws, for CD and
/// for PCD with more chains than rows, to rounding (the sums are ordered differently).
#[test]
fn fused_weight_gradient_equals_the_data_term_minus_the_chain_term() {
    use emf_rbm::train::{
        ContrastiveDivergence, Gradient, NegativePhase, PersistentCd, PositivePhase,
    };
    use emf_rbm::{faer::Mat, rng};
    let rbm = Rbm::<f64>::random(30, 20, 0.4, &mut rng::rng(1)).unwrap();
    let v = Mat::from_fn(8, 30, |r, i| ((r + 2 * i) % 3 == 0) as u8 as f64);
    let field = &v * &rbm.w;
    let probs = rbm.hidden_probs(v.as_ref());
    let positive = PositivePhase {
        batch: v.as_ref(),
        hidden_field: field.as_ref(),
        hidden_probs: probs.as_ref(),
        sparse: None,
    };
    let phases = || -> Vec<Box<dyn NegativePhase<f64>>> {
        vec![
            Box::new(ContrastiveDivergence::new(2, 30, 20)),
            Box::new(PersistentCd::new(1, 13, 30, 20)),
        ]
    };
    for (mut fused, mut plain) in phases().into_iter().zip(phases()) {
        for step in 0..3 {
            let mut a = Gradient::<f64>::zeros(30, 20);
            let mut b = Gradient::<f64>::zeros(30, 20);
            fused
                .weight_gradient_from(&rbm, positive, &mut a, &mut rng::rng(step))
                .unwrap();
            positive.weight_gradient_into(&mut b);
            plain
                .subtract_model_statistics(&rbm, v.as_ref(), &mut b, &mut rng::rng(step))
                .unwrap();
            let diff = (&a.w - &b.w).norm_max();
            assert!(diff < 1e-14, "{} step {step}: |dW| {diff}", fused.name());
            assert!(b.w.norm_max() > 0.05, "{}", fused.name());
            assert_eq!(a.a, b.a);
            assert_eq!(a.b, b.b);
        }
    }
}

/// The scan behind the seed of `f32_training_runs_and_tracks_f64`: for each seed, the largest
/// held-out LL and weight differences between the f64 and f32 runs.
#[test]
#[ignore]
fn scan_f32_seeds() {
    let (train, test) = digits();
    for seed in 1..=12u64 {
        let c = TrainConfig {
            seed,
            ..config(Method::Cd { k: 1 }, 5)
        };
        let a = Trainer::<f64>::new(c.clone())
            .fit(&train, Some(&test))
            .unwrap();
        let b = Trainer::<f32>::new(c).fit(&train, Some(&test)).unwrap();
        let d = a
            .history
            .epochs
            .iter()
            .zip(&b.history.epochs)
            .map(|(x, y)| {
                (x.log_likelihood_held_out.unwrap() - y.log_likelihood_held_out.unwrap()).abs()
            })
            .fold(0.0, f64::max);
        let (wa, wb) = (&a.rbm.w, &b.rbm.w);
        let dw = (0..16)
            .flat_map(|j| (0..64).map(move |i| (wa[(i, j)] - f64::from(wb[(i, j)])).abs()))
            .fold(0.0, f64::max);
        eprintln!("seed {seed}: max dLL {d:.2e} max dW {dw:.2e}");
    }
}

/// The spectrum observer records every epoch; its values are the square roots of the
/// eigenvalues of W^T W (an independent computation), largest first, and the last record is
/// the final model's.
#[test]
fn weight_spectrum_records_the_singular_values_of_w() {
    use emf_rbm::faer::Side;
    use emf_rbm::train::spectrum::{singular_values, WeightSpectrum};
    let data = emf_rbm::data::Dataset::digits().binarize(0.5);
    let cfg = TrainConfig::builder()
        .n_hidden(6)
        .epochs(4)
        .seed(3)
        .build()
        .unwrap();
    let (spectrum, records) = WeightSpectrum::new(10);
    let fitted = Trainer::<f64>::new(cfg)
        .with_observer(spectrum)
        .fit(&data, None)
        .unwrap();
    let r = records.get();
    assert_eq!(
        r.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(r[3].values, singular_values(&fitted.rbm).unwrap());
    assert_eq!(
        r[3].values.len(),
        6,
        "min(nv, nh) values when top is larger"
    );
    let w = &fitted.rbm.w;
    let mut eig = (w.transpose() * w)
        .self_adjoint_eigenvalues(Side::Lower)
        .unwrap();
    eig.sort_by(|a, b| b.total_cmp(a));
    for (s, e) in r[3].values.iter().zip(eig) {
        assert!(
            (s - e.sqrt()).abs() < 1e-10 * (1.0 + s),
            "{s} vs {}",
            e.sqrt()
        );
    }
}
