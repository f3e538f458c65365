//! Stacked RBMs: per-layer free energies, the DBN bound, the exact decimation flow, and RG
//! observables.

mod common;
use common::tmpdir;

use emf_rbm::data::Dataset;
use emf_rbm::estimate::exact;
use emf_rbm::faer::Mat;
use emf_rbm::hamiltonian::{EffectiveHamiltonian, SpinMethod};
use emf_rbm::ising::{sample_ising, IsingConfig};
use emf_rbm::rng::rng;
use emf_rbm::stack::decimation::{
    chain_log_partition, decimated_coupling, decimation_flow, decimation_log_constant,
    decimation_offset, decimation_rbm, measured_flow,
};
use emf_rbm::stack::{
    FreeEnergyOptions, IsingExperiment, Layout, Propagation, RgFlow, RgOptions, Stack, StackConfig,
    StackReport, STACK_VERSION,
};
use emf_rbm::train::{Method, MonitorConfig, TrainConfig, Trainer};
use emf_rbm::{Error, Rbm};

/// Weights `N(0, sigma^2)`, biases uniform in [-1, 1].
fn random_rbm_unit(nv: usize, nh: usize, sigma: f64, seed: u64) -> Rbm<f64> {
    common::random_rbm(nv, nh, sigma, 1.0, seed)
}

fn digits() -> (Dataset, Dataset) {
    Dataset::digits().binarize(0.5).split(0.2, 3).unwrap()
}

fn layer_config(n_hidden: usize, epochs: usize, seed: u64) -> TrainConfig {
    TrainConfig::builder()
        .n_hidden(n_hidden)
        .method(Method::Cd { k: 1 })
        .epochs(epochs)
        .batch_size(20)
        .learning_rate(0.05)
        .momentum(0.5)
        .seed(seed)
        .build()
        .unwrap()
}

/// Every binary configuration of `n` units, one per row (bit `i` of the row index = unit `i`).
fn all_states(n: usize) -> Mat<f64> {
    Mat::from_fn(1 << n, n, |s, i| ((s >> i) & 1) as f64)
}

fn ising(l: usize, t: f64, samples: usize, seed: u64) -> Dataset {
    sample_ising(&IsingConfig {
        seed,
        ..IsingConfig::new(l, t, samples)
    })
    .unwrap()
    .dataset
}

#[test]
fn one_layer_stack_equals_the_single_rbm() {
    let (train, test) = digits();
    let cfg = layer_config(16, 3, 7);
    let single = Trainer::<f64>::new(cfg.clone())
        .fit(&train, Some(&test))
        .unwrap();
    let stack_cfg = StackConfig::builder().layer(cfg.clone()).build().unwrap();
    let stack = Stack::<f64>::fit(&stack_cfg, &train, Some(&test)).unwrap();
    assert_eq!(stack.n_layers(), 1);
    // Bit-identical parameters.
    let (a, b) = (&single.rbm, &stack.layers[0]);
    for j in 0..16 {
        for i in 0..64 {
            assert_eq!(a.w[(i, j)].to_bits(), b.w[(i, j)].to_bits());
        }
    }
    assert!(a
        .a
        .iter()
        .zip(&b.a)
        .all(|(x, y)| x.to_bits() == y.to_bits()));
    assert!(a
        .b
        .iter()
        .zip(&b.b)
        .all(|(x, y)| x.to_bits() == y.to_bits()));
    // Same metrics (timings aside).
    let h = &stack.history.as_ref().unwrap().layers[0];
    for (x, y) in single.history.epochs.iter().zip(&h.epochs) {
        assert_eq!(x.log_likelihood_held_out, y.log_likelihood_held_out);
        assert_eq!(x.free_energy_train, y.free_energy_train);
    }
    assert_eq!(single.history.config, h.config);
    // The bottom layer of a deeper stack is that RBM too, and the second layer trains on
    // its mean-field activations.
    let deep_cfg = StackConfig::builder()
        .layer(cfg)
        .layer(layer_config(4, 2, 8))
        .build()
        .unwrap();
    let deep = Stack::<f64>::fit(&deep_cfg, &train, Some(&test)).unwrap();
    assert_eq!(deep.layers[0], single.rbm);
    assert_eq!(deep.sizes(), vec![64, 16, 4]);
    let x1 = deep
        .propagate(&train, 1, Propagation::MeanField, 0)
        .unwrap();
    let again = Trainer::<f64>::new(layer_config(4, 2, 8))
        .fit(&x1, None)
        .unwrap();
    assert_eq!(deep.layers[1], again.rbm);
}

#[test]
fn save_load_round_trip() {
    let (train, test) = digits();
    let train = train.head(400);
    let base = layer_config(16, 2, 1);
    let cfg = StackConfig::builder()
        .sizes(&base, &[12, 5])
        .propagation(Propagation::Samples)
        .seed(9)
        .build()
        .unwrap();
    assert_eq!(cfg.layers[1].seed, 2);
    let dir = tmpdir("roundtrip");
    let stack = Stack::<f64>::fit(&cfg, &train, Some(&test)).unwrap();
    let hist = stack.history.as_ref().unwrap();
    assert_eq!(hist.config.propagation, Propagation::Samples);
    assert_eq!(hist.layers.len(), 2);
    // Sampled propagation: layer 2 saw binary inputs.
    let path = dir.join("stack.json");
    stack.save(&path).unwrap();
    let back = Stack::<f64>::load(&path).unwrap();
    assert_eq!(back, stack);
    // f32 stacks round-trip exactly too.
    let s32 = Stack::<f32>::fit(&cfg, &train, None).unwrap();
    s32.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"float\":\"f32\""));
    assert_eq!(Stack::<f32>::load(&path).unwrap(), s32);

    // Refusals: a single-model file, a future version, a broken chain of shapes.
    let single = dir.join("single.json");
    emf_rbm::persist::save_rbm(&single, &stack.layers[0], None).unwrap();
    assert!(matches!(
        Stack::<f64>::load(&single),
        Err(Error::Format { .. })
    ));
    let v = text.replacen(&format!("\"version\":{STACK_VERSION}"), "\"version\":99", 1);
    std::fs::write(&path, v).unwrap();
    assert!(matches!(
        Stack::<f64>::load(&path),
        Err(Error::Version { found: 99, .. })
    ));
    let mut file = stack.to_file();
    file.layers.swap(0, 1);
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let err = Stack::<f64>::load(&path).unwrap_err();
    assert!(err.to_string().contains("hidden units"), "{err}");
    assert!(Stack::from_layers(vec![
        random_rbm_unit(4, 3, 1.0, 1),
        random_rbm_unit(4, 2, 1.0, 2)
    ])
    .is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn free_energy_gap_is_zero_on_iid_halves() {
    // Two halves of one i.i.d. Ising sample: train on one, hold out the other. A small stack
    // trained briefly cannot tell them apart.
    let data = ising(8, 2.6, 4000, 11);
    let (train, held_out) = data.split(0.5, 1).unwrap();
    let base = layer_config(16, 3, 2);
    let cfg = StackConfig::builder()
        .sizes(&base, &[16, 8])
        .build()
        .unwrap();
    let stack = Stack::<f64>::fit(&cfg, &train, Some(&held_out)).unwrap();
    let fe = stack
        .free_energies(&train, &held_out, &FreeEnergyOptions::default())
        .unwrap();
    for l in &fe {
        eprintln!(
            "layer {}: F train {:.4}, held-out {:.4}, gap {:.4} +- {:.4}, nll/unit {:?}",
            l.layer,
            l.free_energy_train,
            l.free_energy_held_out,
            l.gap,
            l.gap_stderr,
            l.nll_per_unit_held_out
        );
        assert!(l.gap_stderr > 0.0 && l.gap_stderr < 1.0);
        assert!(
            l.gap.abs() < 3.0 * l.gap_stderr,
            "layer {}: gap {} +- {}",
            l.layer,
            l.gap,
            l.gap_stderr
        );
        assert!(l.coarse.is_some());
    }
    // The bootstrap is seeded: the same options give the same error bars.
    let again = stack
        .free_energies(&train, &held_out, &FreeEnergyOptions::default())
        .unwrap();
    assert_eq!(fe, again);

    // The per-unit negative log-likelihood, on every held-out row (a subset as large as the
    // set takes all rows in order). ln Z is exact here (<= 16 hidden units): layer 1's value is
    // minus the exact held-out log-likelihood per unit; layer 2's is (mean F + ln Z) / 16 of
    // its input, the mean-field activations of layer 1.
    let all = FreeEnergyOptions {
        subset: held_out.n_samples().max(train.n_samples()),
        ..FreeEnergyOptions::default()
    };
    let fe = stack.free_energies(&train, &held_out, &all).unwrap();
    let y1 = held_out.to_mat::<f64>();
    let layer1 = &stack.layers[0];
    let ll = exact::mean_log_likelihood(layer1, y1.as_ref()).unwrap();
    let nll1 = fe[0].nll_per_unit_held_out.unwrap();
    assert!((nll1 + ll / 64.0).abs() < 1e-12, "{nll1} vs {}", -ll / 64.0);
    let y2 = stack
        .propagate(&held_out, 1, Propagation::MeanField, 0)
        .unwrap()
        .to_mat::<f64>();
    let layer2 = &stack.layers[1];
    let ln_z2 = exact::log_partition(layer2).unwrap();
    let f2 = layer2.free_energy(y2.as_ref());
    let f2 = f2.iter().sum::<f64>() / f2.len() as f64;
    let z = fe[1].ln_z.unwrap();
    assert_eq!((z.value, z.lower, z.upper), (ln_z2, ln_z2, ln_z2));
    assert!((fe[1].nll_per_unit_held_out.unwrap() - (f2 + ln_z2) / 16.0).abs() < 1e-12);
    // Its scale: a model's cross-entropy on samples of the 8 x 8 Ising model lies above the
    // model's exact entropy per site s = ln Z / N + <E> / (N T), and a trained layer beats the
    // uniform model's ln 2. The held-out mean of -ln p(v) / 64 has a standard error of
    // sd / sqrt(2000) / 64 (printed); both margins must exceed 4 of them.
    let ising = emf_rbm::ising::exact_finite(8, 2.6).unwrap();
    let entropy = ising.ln_z / 64.0 + ising.energy_per_site / 2.6;
    let per_row =
        exact::log_likelihood_with(layer1, y1.as_ref(), exact::log_partition(layer1).unwrap());
    let mean = per_row.iter().sum::<f64>() / per_row.len() as f64;
    let sd = (per_row.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (per_row.len() - 1) as f64)
        .sqrt();
    let se = sd / (per_row.len() as f64).sqrt() / 64.0;
    eprintln!(
        "layer 1 nll per unit {nll1:.4} +- {se:.4}: Ising entropy per site {entropy:.4}, ln 2 {:.4}",
        std::f64::consts::LN_2
    );
    assert!(
        nll1 > entropy + 4.0 * se,
        "{nll1} below the entropy {entropy}"
    );
    assert!(
        nll1 < std::f64::consts::LN_2 - 4.0 * se,
        "{nll1} not below ln 2"
    );
}

fn quiet_config(n_hidden: usize, epochs: usize, batch: usize, lr: f64, seed: u64) -> TrainConfig {
    TrainConfig::builder()
        .n_hidden(n_hidden)
        .method(Method::Cd { k: 1 })
        .epochs(epochs)
        .batch_size(batch)
        .learning_rate(lr)
        .momentum(0.5)
        .seed(seed)
        .monitor(MonitorConfig {
            every: 0,
            ..MonitorConfig::default()
        })
        .build()
        .unwrap()
}

#[test]
fn free_energy_gap_grows_when_overfitting() {
    // A 64-32-32 stack trained on 40 Ising samples: after 1 epoch neither layer can tell its
    // training rows from 1000 held-out samples; after 500 epochs both have memorised theirs.
    let data = ising(8, 2.6, 1040, 12);
    let tiny = data.head(40);
    let held_out = data.subset(&(40..1040).collect::<Vec<_>>()).unwrap();
    let opts = FreeEnergyOptions::default();
    for p in [Propagation::MeanField, Propagation::Samples] {
        let gaps = |epochs: usize| {
            let cfg = StackConfig::builder()
                .sizes(&quiet_config(1, epochs, 4, 0.1, 4), &[32, 32])
                .propagation(p)
                .build()
                .unwrap();
            let stack = Stack::<f64>::fit(&cfg, &tiny, None).unwrap();
            stack.free_energies(&tiny, &held_out, &opts).unwrap()
        };
        let (brief, long) = (gaps(1), gaps(500));
        for (b, l) in brief.iter().zip(&long) {
            eprintln!(
                "{p}, layer {}: gap after 1 epoch {:.3} +- {:.3}, after 500 epochs {:.3} +- {:.3}",
                l.layer, b.gap, b.gap_stderr, l.gap, l.gap_stderr
            );
            assert!(b.gap.abs() < 3.0 * b.gap_stderr, "{p}, layer {}", b.layer);
            assert!(
                l.gap > 5.0 * l.gap_stderr,
                "{p}, layer {}: {} +- {}",
                l.layer,
                l.gap,
                l.gap_stderr
            );
            assert!(l.gap > b.gap + 3.0, "{p}, layer {}", l.layer);
        }
    }
}

#[test]
fn dbn_bound_is_tight_for_the_transposed_second_layer() {
    for (nv, nh, seed) in [(6usize, 4usize, 1u64), (5, 5, 2), (7, 3, 3)] {
        let rbm = random_rbm_unit(nv, nh, 1.5, seed);
        let stack = Stack::from_layers(vec![rbm.clone(), rbm.transpose()]).unwrap();
        let v = all_states(nv);
        let ln_z = exact::log_partition(&rbm).unwrap();
        let ln_p1 = exact::log_likelihood_with(&rbm, v.as_ref(), ln_z);
        let bound = stack.dbn_bound(v.as_ref()).unwrap();
        let ln_p = stack.dbn_log_likelihood(v.as_ref()).unwrap();
        for s in 0..1 << nv {
            assert!(
                (bound[s] - ln_p1[s]).abs() < 1e-10,
                "v={s:b}: bound {} vs ln p1 {}",
                bound[s],
                ln_p1[s]
            );
            assert!((ln_p[s] - ln_p1[s]).abs() < 1e-10);
        }
        // One layer: the bound with the layer's own prior is ln p1(v) too.
        let one = Stack::from_layers(vec![rbm.clone()]).unwrap();
        let b1 = one.dbn_bound(v.as_ref()).unwrap();
        let l1 = one.dbn_log_likelihood(v.as_ref()).unwrap();
        for s in 0..1 << nv {
            assert!((b1[s] - ln_p1[s]).abs() < 1e-10 && (l1[s] - ln_p1[s]).abs() < 1e-10);
        }
    }
}

#[test]
fn dbn_bound_is_below_the_likelihood_for_other_second_layers() {
    let rbm = random_rbm_unit(6, 4, 1.5, 5);
    let v = all_states(6);
    let mut tops: Vec<Rbm<f64>> = (0..3).map(|s| random_rbm_unit(4, 3, 1.5, 10 + s)).collect();
    // A perturbed transpose: close to tight but not tight.
    let mut near = rbm.transpose();
    near.w[(0, 0)] += 0.3;
    tops.push(near);
    // A three-layer network as well.
    let three = Stack::from_layers(vec![
        rbm.clone(),
        random_rbm_unit(4, 5, 1.0, 20),
        random_rbm_unit(5, 2, 1.0, 21),
    ])
    .unwrap();
    let mut stacks: Vec<Stack<f64>> = tops
        .into_iter()
        .map(|t| Stack::from_layers(vec![rbm.clone(), t]).unwrap())
        .collect();
    stacks.push(three);
    for (k, stack) in stacks.iter().enumerate() {
        let ln_p = stack.dbn_log_likelihood(v.as_ref()).unwrap();
        let bound = stack.dbn_bound(v.as_ref()).unwrap();
        // ln p is a normalised distribution over the 64 states.
        let total: f64 = ln_p.iter().map(|x| x.exp()).sum();
        assert!((total - 1.0).abs() < 1e-12, "stack {k}: sum p = {total}");
        let mut min_gap = f64::INFINITY;
        for s in 0..64 {
            let gap = ln_p[s] - bound[s];
            assert!(
                gap > -1e-12,
                "stack {k}, v={s:b}: bound above ln p by {}",
                -gap
            );
            min_gap = min_gap.min(gap);
        }
        // Strictly below: the posterior of layer 1 is not the network's posterior.
        assert!(min_gap > 1e-6, "stack {k}: smallest gap {min_gap}");
    }
}

#[test]
fn greedy_second_layer_raises_the_bound() {
    // Hinton, Osindero & Teh: start layer 2 at layer 1 transposed (the bound is then ln p1(v)),
    // and train it on samples of q(h|v): the mean bound over the data goes up. The possible
    // gain is KL(aggregated posterior || p1(h)), which is tiny for a well-trained layer 1, so
    // layer 1 here is Hinton's initialisation with wide weights (untrained).
    let (train, _) = digits();
    let train = train.head(600);
    let v = train.to_mat::<f64>();
    let mut c1 = layer_config(8, 0, 3);
    c1.init_sigma = 1.0;
    let l1 = Trainer::<f64>::new(c1).fit(&train, None).unwrap().rbm;
    let start = Stack::from_layers(vec![l1.clone(), l1.transpose()]).unwrap();
    let before: f64 = start.dbn_bound(v.as_ref()).unwrap().iter().sum::<f64>() / 600.0;
    let ln_p1 = exact::mean_log_likelihood(&l1, v.as_ref()).unwrap();
    assert!((before - ln_p1).abs() < 1e-9);
    // Five samples of q(h|v) per row.
    let one = Stack::from_layers(vec![l1.clone()]).unwrap();
    let mut rows = Vec::new();
    for seed in 0..5 {
        let h = one
            .propagate(&train, 1, Propagation::Samples, seed)
            .unwrap();
        rows.extend_from_slice(h.as_slice());
    }
    let h = Dataset::new(rows, 8, None).unwrap();
    let l2 = Trainer::<f64>::new(quiet_config(64, 10, 20, 0.01, 4))
        .fit_from(l1.transpose(), &h, None)
        .unwrap()
        .rbm;
    let trained = Stack::from_layers(vec![l1, l2]).unwrap();
    let after: f64 = trained.dbn_bound(v.as_ref()).unwrap().iter().sum::<f64>() / 600.0;
    let ll_after: f64 = trained
        .dbn_log_likelihood(v.as_ref())
        .unwrap()
        .iter()
        .sum::<f64>()
        / 600.0;
    eprintln!("mean bound {before:.4} -> {after:.4}; DBN ln p {ll_after:.4}");
    assert!(after > before + 1.0, "{after} vs {before}");
    assert!(ll_after >= after);
}

#[test]
fn decimation_rbm_coarse_hamiltonian_is_the_decimated_chain() {
    for (n, k) in [(6usize, 0.7f64), (5, 0.31), (8, 1.3), (7, -0.45)] {
        let rbm = decimation_rbm(n, k).unwrap();
        let stack = Stack::from_layers(vec![rbm.clone()]).unwrap();
        let ham = stack.coarse_hamiltonian(1).unwrap();
        assert_eq!(ham.n_units(), n);
        let kp = decimated_coupling(k);
        assert!((kp.tanh() - k.tanh().powi(2)).abs() < 1e-14);
        let table = ham.table_spin(&SpinMethod::Enumeration).unwrap();
        let j0 = n as f64 * decimation_log_constant(k) - decimation_offset(n, k);
        for (mask, &got) in table.values().iter().enumerate() {
            let neighbours =
                mask.count_ones() == 2 && (0..n).any(|m| mask == (1 << m) | (1 << ((m + 1) % n)));
            let want = if mask == 0 {
                j0
            } else if neighbours {
                kp
            } else {
                0.0
            };
            assert!(
                (got - want).abs() < 1e-10,
                "n={n} K={k}: J[{mask:b}] = {got}, expected {want}"
            );
        }
        // ln Z bookkeeping: Z_2N(K) = (2 sqrt(cosh 2K))^N Z_N(K'), with ln Z of the RBM exact.
        let ln_z_rbm = exact::log_partition(&rbm).unwrap() + decimation_offset(n, k);
        let closed = chain_log_partition(2 * n, k);
        let decimated = n as f64 * decimation_log_constant(k) + chain_log_partition(n, kp);
        assert!((ln_z_rbm - closed).abs() < 1e-10, "{ln_z_rbm} vs {closed}");
        assert!(
            (decimated - closed).abs() < 1e-10,
            "{decimated} vs {closed}"
        );
    }
    // The closed form itself against brute force over the 2^10 spins of a 10-site chain.
    let (sites, k) = (10usize, 0.83);
    let mut terms = Vec::new();
    for s in 0..1usize << sites {
        let sp = |i: usize| if s >> (i % sites) & 1 == 1 { 1.0 } else { -1.0 };
        terms.push(k * (0..sites).map(|i| sp(i) * sp(i + 1)).sum::<f64>());
    }
    let brute = emf_rbm::linalg::log_sum_exp(&terms);
    assert!((brute - chain_log_partition(sites, k)).abs() < 1e-12);
}

#[test]
fn iterated_decimation_reproduces_the_exact_flow() {
    let k = 1.2;
    let steps = measured_flow(16, k, 3).unwrap();
    let flow = decimation_flow(k, 3);
    assert_eq!(steps.len(), 3);
    for (s, step) in steps.iter().enumerate() {
        assert_eq!(step.sites, 32 >> s);
        assert!((step.k - flow[s]).abs() < 1e-10, "step {s}");
        assert!(
            (step.k_coarse - flow[s + 1]).abs() < 1e-10,
            "step {s}: measured {} vs exact {}",
            step.k_coarse,
            flow[s + 1]
        );
        assert!(step.max_other_coupling < 1e-10);
        assert!((step.ln_z_rbm - step.ln_z_exact).abs() < 1e-9);
        assert!((step.ln_z_decimated - step.ln_z_exact).abs() < 1e-9);
    }
    // Telescoped: ln Z_32(K) = 16 ln A(K) + 8 ln A(K') + 4 ln A(K'') + ln Z_4(K''').
    let tele = 16.0 * decimation_log_constant(flow[0])
        + 8.0 * decimation_log_constant(flow[1])
        + 4.0 * decimation_log_constant(flow[2])
        + chain_log_partition(4, steps[2].k_coarse);
    assert!((tele - steps[0].ln_z_exact).abs() < 1e-9);
    // The flow runs to the trivial fixed point.
    assert!(flow.windows(2).all(|w| w[1] < w[0]) && flow[3] < 0.25);
    // Too short a chain is refused.
    assert!(decimation_rbm(2, 0.5).is_err());
    assert!(measured_flow(6, 0.5, 2).is_ok()); // 12 sites -> 6 -> 3
    assert!(measured_flow(3, 0.5, 2).is_err()); // 6 sites -> 3: odd, cannot halve again
    assert!(measured_flow(4, 0.5, 2).is_err()); // 8 -> 4 -> 2: too short to build
}

/// A block-spin layer on an `l x l` lattice: hidden unit (R, C) sees the 2 x 2 block at
/// (2R, 2C) with weight `w` and bias `-2w` (so it fires when most of the block is up);
/// `flip` units are negated (fire when the block is down).
fn block_spin_rbm(l: usize, w: f64, flip: &[bool]) -> Rbm<f64> {
    let m = l / 2;
    let mut rbm = Rbm::<f64>::zeros(l * l, m * m).unwrap();
    for r in 0..m {
        for c in 0..m {
            let u = r * m + c;
            let s = if flip[u] { -1.0 } else { 1.0 };
            for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                rbm.w[((2 * r + dr) * l + 2 * c + dc, u)] = s * w;
            }
            rbm.b[u] = -s * 2.0 * w;
        }
    }
    rbm
}

#[test]
fn rg_observables_on_block_spins() {
    let l = 8;
    let samples = sample_ising(&IsingConfig {
        seed: 3,
        ..IsingConfig::new(l, 2.0, 600)
    })
    .unwrap();
    let data = samples.dataset.clone();
    // 16 block spins, negated every third, then shuffled.
    let flip: Vec<bool> = (0..16).map(|u| u % 3 == 0).collect();
    let blocks = block_spin_rbm(l, 3.0, &flip);
    let perm: Vec<usize> = vec![5, 12, 0, 9, 14, 3, 7, 1, 10, 15, 2, 6, 13, 8, 11, 4];
    let mut layer1 = Rbm::<f64>::zeros(64, 16).unwrap();
    for (new, &old) in perm.iter().enumerate() {
        for i in 0..64 {
            layer1.w[(i, new)] = blocks.w[(i, old)];
        }
        layer1.b[new] = blocks.b[old];
    }
    let layer2 = random_rbm_unit(16, 4, 0.5, 3);
    let stack = Stack::from_layers(vec![layer1.clone(), layer2.clone()]).unwrap();
    // Receptive fields are products of weight matrices.
    let rf2 = stack.receptive_fields(2).unwrap();
    for i in [0usize, 17, 63] {
        for u in 0..4 {
            let want: f64 = (0..16).map(|k| layer1.w[(i, k)] * layer2.w[(k, u)]).sum();
            assert!((rf2[(i, u)] - want).abs() < 1e-12);
        }
    }
    assert_eq!(stack.receptive_fields(1).unwrap(), layer1.w);
    let obs = stack.rg_observables(&data, &RgOptions::default()).unwrap();
    assert_eq!(obs.len(), 3);
    // Level 0 is the Ising data: exact sample averages.
    let m_samples = samples.mean_abs_magnetization();
    let nn_samples = -samples.mean_energy() / 2.0;
    assert!((obs[0].magnetization - m_samples).abs() < 1e-12);
    assert!((obs[0].nn_correlation.unwrap() - nn_samples).abs() < 1e-12);
    // Level 1: the layout puts every shuffled block spin back on its block.
    let layout = obs[1].layout.as_ref().unwrap();
    assert_eq!(obs[1].lattice, Some((4, 4)));
    assert!(layout.mismatch < 1e-9, "mismatch {}", layout.mismatch);
    for (new, &old) in perm.iter().enumerate() {
        assert_eq!(layout.site_of_unit[new], old);
    }
    // Receptive-field radius of a 2 x 2 block: sqrt(1/2).
    assert!((obs[1].rf_radius.unwrap() - 0.5f64.sqrt()).abs() < 1e-9);
    // Oriented block spins of an ordered sample stay ordered and correlated.
    eprintln!(
        "|m|: {:.3} -> {:.3}; <ss>nn: {:.3} -> {:.3}",
        obs[0].magnetization,
        obs[1].magnetization,
        obs[0].nn_correlation.unwrap(),
        obs[1].nn_correlation.unwrap()
    );
    assert!(obs[0].magnetization > 0.7);
    assert!(obs[1].magnetization > 0.6);
    assert!(obs[1].nn_correlation.unwrap() > 0.4);
    // The layout matters for lattice quantities. Above T_c correlations are short-ranged: laid
    // out by index, the shuffled block spins are not neighbours and their nearest-neighbour
    // correlation drops; the unshuffled blocks laid out by index are the same lattice as the
    // shuffled ones laid out by receptive field.
    let hot = ising(16, 3.0, 600, 4);
    let flip64: Vec<bool> = (0..64).map(|u| u % 5 == 0).collect();
    let plain_blocks = block_spin_rbm(16, 3.0, &flip64);
    let mut order: Vec<usize> = (0..64).collect();
    rand::seq::SliceRandom::shuffle(&mut order[..], &mut rng(8));
    let mut shuffled_blocks = Rbm::<f64>::zeros(256, 64).unwrap();
    for (new, &old) in order.iter().enumerate() {
        for i in 0..256 {
            shuffled_blocks.w[(i, new)] = plain_blocks.w[(i, old)];
        }
        shuffled_blocks.b[new] = plain_blocks.b[old];
    }
    let by_index = RgOptions {
        layout: Layout::Index,
        couplings: false,
        ..RgOptions::default()
    };
    let nn = |r: &Rbm<f64>, o: &RgOptions| {
        let s = Stack::from_layers(vec![r.clone()]).unwrap();
        s.rg_observables(&hot, o).unwrap()[1]
            .nn_correlation
            .unwrap()
    };
    let by_rf = RgOptions {
        couplings: false,
        ..RgOptions::default()
    };
    let (rf, scrambled, plain) = (
        nn(&shuffled_blocks, &by_rf),
        nn(&shuffled_blocks, &by_index),
        nn(&plain_blocks, &by_index),
    );
    eprintln!(
        "T = 3, <ss>nn of 8x8 block spins: rf layout {rf:.4}, index layout (shuffled) \
         {scrambled:.4}, index layout (unshuffled) {plain:.4}"
    );
    assert!((rf - plain).abs() < 0.03);
    assert!(rf > scrambled + 0.1);
    // Couplings: the data level's model is layer 1's visible side (block spins induce
    // ferromagnetic couplings inside each block); the coarse Hamiltonian of disjoint blocks
    // has no couplings at all (each input unit touches one block spin).
    let j0 = obs[0].coupling_nn.unwrap();
    let jc = obs[1].coupling_nn_coarse.unwrap();
    assert!(j0 > 0.0, "{j0}");
    assert_eq!(jc, 0.0);
    assert!(obs[2].coupling_nn.is_none() && obs[0].coupling_nn_coarse.is_none());
    // Cross-check against the visible-side Hamiltonian directly.
    let ham = EffectiveHamiltonian::new(&stack.layers[0]);
    let pairs = obs[0].layout.as_ref().unwrap().neighbour_pairs(true);
    assert_eq!(pairs.len(), 128);
    let method = SpinMethod::auto(64);
    let direct: f64 = pairs
        .iter()
        .map(|&(u, w)| ham.coupling_spin(&[u, w], &method).unwrap())
        .sum::<f64>()
        / pairs.len() as f64;
    assert!((direct - j0).abs() < 1e-12);
}

#[test]
fn cli_runs_a_small_rg_experiment() {
    let dir = tmpdir("cli");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_emf-rbm"))
        .args([
            "stack",
            "--ising-size",
            "8",
            "--temperature",
            "2.0,2.6",
            "--samples",
            "300",
            "--layers",
            "16,4",
            "--epochs",
            "2",
            "--l1",
            "0.001",
            "--log",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    // The same experiments in the library, with the CLI's defaults (CD-1, lr 0.05, batch 20,
    // momentum 0.5, sigma 0.01, seed 0, 10 % held out; report subset 1000, 200 bootstrap
    // replicates, exact ln Z up to 20 units, 2000 observed rows, 400 coupling pairs): every
    // file the CLI wrote is byte for byte the one the library writes from its own run.
    let base = TrainConfig::builder()
        .n_hidden(16)
        .method(Method::Cd { k: 1 })
        .epochs(2)
        .l1(0.001)
        .build()
        .unwrap();
    let cfg = StackConfig::builder()
        .sizes(&base, &[16, 4])
        .propagation(Propagation::MeanField)
        .seed(0)
        .build()
        .unwrap();
    let lib_dir = tmpdir("cli-lib");
    let mut flow = RgFlow::default();
    for t in [2.0, 2.6] {
        let mut exp = IsingExperiment::new(8, t, 300, cfg.clone());
        exp.held_out_fraction = 0.1;
        exp.free_energy = FreeEnergyOptions {
            propagation: Some(Propagation::MeanField),
            ..FreeEnergyOptions::default()
        };
        exp.rg = RgOptions {
            max_samples: 2000,
            max_coupling_pairs: 400,
            ..RgOptions::default()
        };
        let run = exp.run::<f64>().unwrap();
        let report = StackReport::new(
            &run.stack,
            run.free_energies,
            run.observables,
            Some(run.reference),
        );
        let (cli, lib) = (dir.join(format!("T{t}")), lib_dir.join(format!("T{t}")));
        std::fs::create_dir_all(&lib).unwrap();
        let written = report.save(&lib, &run.stack, Some((8, 8))).unwrap();
        let s = Stack::<f64>::load(&cli.join("stack.json")).unwrap();
        assert_eq!(s.layers, run.stack.layers, "T = {t}: same weights");
        assert_eq!(s.history.unwrap().layers[0].config.l1, 0.001);
        assert!(stdout.contains(&report.table()), "T = {t}: table missing");
        let mut names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut in_cli: Vec<String> = std::fs::read_dir(&cli)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        in_cli.sort();
        assert_eq!(in_cli, names, "T = {t}: the files written");
        for name in names.iter().filter(|n| n.as_str() != "stack.json") {
            // stack.json holds training times; its weights are compared above.
            let (a, b) = (
                std::fs::read(cli.join(name)).unwrap(),
                std::fs::read(lib.join(name)).unwrap(),
            );
            assert!(a == b, "T = {t}: {name} differs from the library's");
        }
        assert_eq!(
            std::fs::read_to_string(cli.join("layers.csv")).unwrap(),
            report.layers_csv()
        );
        let png = std::fs::read(cli.join("receptive_fields_layer1.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        flow.points
            .push((t, report.observables, report.reference.unwrap()));
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("rg_flow.csv")).unwrap(),
        flow.csv()
    );
    let lib_flow = flow.save(&lib_dir).unwrap();
    for p in &lib_flow {
        let name = p.file_name().unwrap();
        assert!(
            std::fs::read(dir.join(name)).unwrap() == std::fs::read(p).unwrap(),
            "{name:?} differs from the library's"
        );
    }
    std::fs::remove_dir_all(&lib_dir).ok();
    // Bad input is refused with a message.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_emf-rbm"))
        .args(["stack", "--propagation", "sideways", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mean-field"));
    std::fs::remove_dir_all(&dir).ok();
}
