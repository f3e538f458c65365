//! The 2D Ising sampler against the exact finite-lattice solution, the exact routes against
//! each other, and the inverse Ising problem.

use emf_rbm::ising::{
    chi_squared, energy_distribution, enumerate, exact_energy_per_site, exact_finite,
    exact_magnetization, kaufman, sample_ising, transfer_matrix, IsingAlgorithm, IsingConfig,
    Measurement, CRITICAL_TEMPERATURE,
};

#[test]
fn exact_references_match_known_values() {
    // docs/MATH.md section 6 (K = 1/T).
    assert!((exact_energy_per_site(1.0 / 0.3) + 0.704499).abs() < 2e-6);
    assert!((exact_energy_per_site(1.0 / 0.5) + 1.745565).abs() < 2e-6);
    assert!((exact_energy_per_site(1.0 / 0.6) + 1.909086).abs() < 2e-6);
    assert!((exact_magnetization(1.0 / 0.5) - 0.911319).abs() < 2e-6);
    assert!((exact_magnetization(1.0 / 0.6) - 0.973609).abs() < 2e-6);
    assert!((exact_energy_per_site(CRITICAL_TEMPERATURE) + 2f64.sqrt()).abs() < 1e-6);
    // continuous through T_c
    let below = exact_energy_per_site(CRITICAL_TEMPERATURE * (1.0 - 1e-7));
    let above = exact_energy_per_site(CRITICAL_TEMPERATURE * (1.0 + 1e-7));
    assert!((below - above).abs() < 1e-4);
    assert_eq!(exact_magnetization(3.0), 0.0);
}

/// The three exact routes for the finite torus agree with each other and with the 2 x 2
/// torus in closed form (each pair of its 4-site ring is bonded twice, so
/// `Z = 2 e^{8K} + 12 + 2 e^{-8K}`).
#[test]
fn finite_lattice_routes_agree() {
    for &t in &[1.2f64, 1.8, CRITICAL_TEMPERATURE, 3.0, 5.0] {
        let k = 1.0 / t;
        let z2 = 2.0 * (8.0 * k).exp() + 12.0 + 2.0 * (-8.0 * k).exp();
        let e2 = -(16.0 * (8.0 * k).exp() - 16.0 * (-8.0 * k).exp()) / z2 / 4.0;
        for l in 2..=8usize {
            let tm = transfer_matrix(l, t).unwrap();
            let ka = kaufman(l, t).unwrap();
            let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs().max(1.0);
            assert!(
                close(tm.ln_z, ka.ln_z, 1e-12),
                "L={l} T={t}: ln Z {} vs {}",
                tm.ln_z,
                ka.ln_z
            );
            assert!(
                close(tm.energy_per_site, ka.energy_per_site, 1e-10),
                "L={l} T={t}: e {} vs {}",
                tm.energy_per_site,
                ka.energy_per_site
            );
            assert!(
                close(tm.specific_heat_per_site, ka.specific_heat_per_site, 1e-8),
                "L={l} T={t}: c {} vs {}",
                tm.specific_heat_per_site,
                ka.specific_heat_per_site
            );
            if l == 2 {
                assert!(close(tm.ln_z, z2.ln(), 1e-14) && close(ka.ln_z, z2.ln(), 1e-12));
                assert!(
                    close(tm.energy_per_site, e2, 1e-13),
                    "{} vs {e2}",
                    tm.energy_per_site
                );
            }
            if l <= 4 {
                let en = enumerate(l, t).unwrap();
                assert!(close(en.ln_z, tm.ln_z, 1e-13));
                assert!(close(en.energy_per_site, tm.energy_per_site, 1e-12));
                assert!(close(
                    en.specific_heat_per_site,
                    tm.specific_heat_per_site,
                    1e-11
                ));
                for (a, b) in [(en.m2, tm.m2), (en.abs_m, tm.abs_m), (en.m4, tm.m4)] {
                    assert!(
                        close(a.unwrap(), b.unwrap(), 1e-12),
                        "L={l} T={t}: {a:?} vs {b:?}"
                    );
                }
                let p = energy_distribution(l, t).unwrap();
                let mean: f64 = p.iter().map(|(e, q)| e * q).sum::<f64>() / (l * l) as f64;
                assert!(close(mean, en.energy_per_site, 1e-12));
            }
            // <m^2> from the propagated moments equals the one of the full distribution
            assert!(tm.abs_m.unwrap() <= tm.m2.unwrap().sqrt() + 1e-15);
        }
    }
    // the transfer matrix's m^2 without the distribution (L = 11) is still checked against
    // itself at L <= 10 above; beyond its range the errors say so
    assert!(transfer_matrix(13, 2.0).is_err());
    assert!(enumerate(6, 2.0).is_err());
    assert!(kaufman(1, 2.0).is_err() && kaufman(8, -1.0).is_err());
}

/// Kaufman's finite-L energy tends to Onsager's away from T_c (corrections ~ e^{-L/xi}), and
/// stays measurably different near T_c where they are power laws.
#[test]
fn kaufman_tends_to_onsager() {
    for &t in &[1.8f64, 3.0] {
        let k = kaufman(200, t).unwrap();
        assert!((k.energy_per_site - exact_energy_per_site(t)).abs() < 1e-9);
    }
    let at_tc = kaufman(16, CRITICAL_TEMPERATURE).unwrap().energy_per_site;
    assert!((at_tc - exact_energy_per_site(CRITICAL_TEMPERATURE)).abs() > 1e-3);
}

/// The samples' energy, <|m|> and <m^2> against the exact values of the same finite torus
/// (transfer matrix at L = 4, 8; Kaufman at L = 16, which gives the energy only), within 4
/// standard errors (batch means within chains, see `chain_mean`). The sampler of earlier
/// versions (Wolff updates until N spins flipped) missed the L = 8, T = 3 energy by more than
/// 10 standard errors.
#[test]
fn samples_match_the_exact_finite_lattice() {
    let mut worst = 0.0f64;
    for &l in &[4usize, 8, 16] {
        for (i, &t) in [1.8f64, 2.269, 3.0].iter().enumerate() {
            let out = sample_ising(&IsingConfig {
                seed: 10 + i as u64,
                ..IsingConfig::new(l, t, 4000)
            })
            .unwrap();
            let exact = exact_finite(l, t).unwrap();
            let mut check = |what: &str, m: Measurement, x: f64| {
                let z = m.z_score(x);
                eprintln!(
                    "L={l:2} T={t}: {what:5} {:.5} +- {:.5}, exact {x:.5} ({:?}), z {z:+.2}",
                    m.mean, m.stderr, exact.method
                );
                worst = worst.max(z.abs());
                assert!(
                    z.abs() < 4.0,
                    "L={l} T={t}: {what} {} +- {} vs exact {x}",
                    m.mean,
                    m.stderr
                );
            };
            check("e", out.energy_per_site(), exact.energy_per_site);
            if let (Some(abs_m), Some(m2)) = (exact.abs_m, exact.m2) {
                check("|m|", out.abs_magnetization(), abs_m);
                check("m^2", out.magnetization_squared(), m2);
            }
        }
    }
    eprintln!("largest |z| {worst:.2}");
}

/// The energy histogram of L = 4 samples against the exact distribution (enumeration of all
/// 65 536 states), chi-squared with the Wilson-Hilferty normal deviate below 4.
#[test]
fn energy_histogram_matches_enumeration() {
    for (seed, &t) in [2.269f64, 3.0].iter().enumerate() {
        let out = sample_ising(&IsingConfig {
            seed: 30 + seed as u64,
            ..IsingConfig::new(4, t, 20000)
        })
        .unwrap();
        let p = energy_distribution(4, t).unwrap();
        let mut counts = vec![0u64; p.len()];
        for e in &out.energy {
            let total = e * 16.0;
            let bin = p
                .iter()
                .position(|(x, _)| (x - total).abs() < 1e-9)
                .expect("reachable energy");
            counts[bin] += 1;
        }
        let probs: Vec<f64> = p.iter().map(|x| x.1).collect();
        let test = chi_squared(&counts, &probs);
        eprintln!(
            "T={t}: chi2 {:.1} on {} dof, z {:+.2}",
            test.statistic, test.dof, test.z
        );
        assert!(
            test.z < 4.0,
            "T={t}: chi2 {} on {} dof",
            test.statistic,
            test.dof
        );
        assert!(test.dof >= 4);
    }
}

/// Below T_c the torus is exactly up-down symmetric: half of the samples have m > 0, and
/// (with the global flip) the sign of m changes between consecutive samples of a chain with
/// probability 1/2. Both within 4 binomial standard deviations.
#[test]
fn magnetization_sign_is_balanced_below_tc() {
    let out = sample_ising(&IsingConfig {
        seed: 5,
        ..IsingConfig::new(16, 2.0, 4000)
    })
    .unwrap();
    let n = out.magnetization.len() as f64;
    let f = out.positive_fraction();
    assert!(
        (f - 0.5).abs() < 4.0 * (0.25 / n).sqrt(),
        "positive fraction {f}"
    );
    let (mut changes, mut pairs) = (0usize, 0usize);
    let mut start = 0;
    for &len in &out.chain_lengths {
        let m = &out.magnetization[start..start + len];
        start += len;
        for w in m.windows(2) {
            pairs += 1;
            changes += usize::from(w[0].signum() != w[1].signum());
        }
    }
    let q = changes as f64 / pairs as f64;
    assert!(
        (q - 0.5).abs() < 4.0 * (0.25 / pairs as f64).sqrt(),
        "sign-change rate {q}"
    );
}

/// Metropolis agrees with the exact values too (at L = 8, T = 3 where it mixes fast).
#[test]
fn metropolis_matches_the_exact_finite_lattice() {
    let cfg = IsingConfig {
        seed: 6,
        algorithm: IsingAlgorithm::Metropolis,
        ..IsingConfig::new(8, 3.0, 3000)
    };
    let out = sample_ising(&cfg).unwrap();
    assert_eq!(out.wolff_per_sweep, 0);
    let exact = exact_finite(8, 3.0).unwrap();
    assert!(out.energy_per_site().z_score(exact.energy_per_site).abs() < 4.0);
    assert!(out.magnetization_squared().z_score(exact.m2.unwrap()).abs() < 4.0);
    // data rows are v = (s + 1)/2
    let row = out.dataset.row(0);
    let mag: f64 = row.iter().map(|v| 2.0 * v - 1.0).sum::<f64>() / 64.0;
    assert!((mag - out.magnetization[0]).abs() < 1e-12);
}

#[test]
fn sampler_is_reproducible_and_thread_count_independent() {
    let cfg = IsingConfig {
        seed: 9,
        ..IsingConfig::new(8, 2.5, 40)
    };
    let a = sample_ising(&cfg).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let b = pool.install(|| sample_ising(&cfg).unwrap());
    assert_eq!(a.dataset.as_slice(), b.dataset.as_slice());
    assert_eq!(a.energy, b.energy);
    let c = sample_ising(&IsingConfig {
        seed: 10,
        ..cfg.clone()
    })
    .unwrap();
    assert_ne!(a.dataset.as_slice(), c.dataset.as_slice());
    assert!(sample_ising(&IsingConfig::new(1, 2.0, 5)).is_err());
    assert!(sample_ising(&IsingConfig::new(4, -1.0, 5)).is_err());
}

/// Inverse Ising: an RBM trained on samples of the 4 x 4 periodic Ising model at T = 5
/// (beta = 0.2, far above T_c = 2.27) learns an effective visible Hamiltonian whose
/// nearest-neighbour couplings are close to the truth, J_nn = beta = 0.2 (spin basis) and
/// K_nn = 4 beta = 0.8 (lattice gas), while all other pairs are much smaller.
///
/// Tolerance: spin basis, the mean over the 32 NN bonds within 0.03 of beta, every NN bond
/// within 0.07, every other pair below 0.07 (a third of beta). Lattice gas: mean K_nn within
/// 0.15 of 4 beta, each NN within 0.4, other pairs below 0.1 on average and below 0.4 (half of
/// K_nn) at worst. The lattice-gas basis is looser because
/// K_ij = 4 sum_{S superset ij} (-1)^(|S|-2) J_S collects the RBM's small spurious
/// higher-order spin couplings (14 triples per pair here; the 0/1 hidden units break the
/// s -> -s symmetry, so odd orders do not cancel). With 30000 samples the statistical error of
/// a maximum-likelihood estimate of one coupling is ~ 1/sqrt(N) ~ 0.006; the rest is the RBM's
/// approximation error (32 hidden units, PCD-5 for 100 epochs).
#[test]
fn inverse_ising_recovers_nearest_neighbour_couplings() {
    use emf_rbm::hamiltonian::{EffectiveHamiltonian, SpinMethod};
    use emf_rbm::train::{Method, TrainConfig, Trainer};

    let (l, t) = (4usize, 5.0f64);
    let beta = 1.0 / t;
    let data = sample_ising(&IsingConfig {
        seed: 3,
        ..IsingConfig::new(l, t, 30000)
    })
    .unwrap()
    .dataset;
    let cfg = TrainConfig::builder()
        .n_hidden(32)
        .method(Method::Pcd {
            k: 5,
            chains: Some(100),
        })
        .epochs(100)
        .batch_size(100)
        .learning_rate(0.05)
        .momentum(0.5)
        .init_sigma(0.01)
        .seed(4)
        .build()
        .unwrap();
    let fitted = Trainer::<f64>::new(cfg).fit(&data, None).unwrap();
    let ham = EffectiveHamiltonian::new(&fitted.rbm);
    let jm = ham.pair_matrix_spin(&SpinMethod::Enumeration).unwrap();
    let km = ham.pair_matrix();
    let n = l * l;
    let nn = |i: usize, k: usize| {
        let (r1, c1, r2, c2) = (i / l, i % l, k / l, k % l);
        let dr = r1.abs_diff(r2).min(l - r1.abs_diff(r2));
        let dc = c1.abs_diff(c2).min(l - c1.abs_diff(c2));
        dr + dc == 1
    };
    let (mut sum_j, mut sum_k, mut count) = (0.0, 0.0, 0);
    let mut sum_k_other = 0.0;
    let (mut worst_j_nn, mut worst_k_nn, mut max_j_other, mut max_k_other) =
        (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        for k in i + 1..n {
            if nn(i, k) {
                sum_j += jm[(i, k)];
                sum_k += km[(i, k)];
                count += 1;
                worst_j_nn = worst_j_nn.max((jm[(i, k)] - beta).abs());
                worst_k_nn = worst_k_nn.max((km[(i, k)] - 4.0 * beta).abs());
            } else {
                max_j_other = max_j_other.max(jm[(i, k)].abs());
                max_k_other = max_k_other.max(km[(i, k)].abs());
                sum_k_other += km[(i, k)].abs();
            }
        }
    }
    assert_eq!(count, 32);
    let (mean_j, mean_k) = (sum_j / 32.0, sum_k / 32.0);
    let mean_k_other = sum_k_other / (n * (n - 1) / 2 - 32) as f64;
    eprintln!(
        "inverse Ising: mean J_nn {mean_j:.4} (worst dev {worst_j_nn:.4}), max |J_other| \
         {max_j_other:.4}; mean K_nn {mean_k:.4} (worst dev {worst_k_nn:.4}), max |K_other| \
         {max_k_other:.4} (mean {mean_k_other:.4})"
    );
    assert!((mean_j - beta).abs() < 0.03, "mean J_nn {mean_j}");
    assert!((mean_k - 4.0 * beta).abs() < 0.15, "mean K_nn {mean_k}");
    assert!(worst_j_nn < 0.07 && worst_k_nn < 0.4);
    assert!(
        max_j_other < 0.07,
        "max |J| off the lattice bonds {max_j_other}"
    );
    assert!(
        mean_k_other < 0.15,
        "mean |K| off the lattice bonds {mean_k_other}"
    );
    assert!(
        max_k_other < 0.4,
        "max |K| off the lattice bonds {max_k_other}"
    );
}

/// The checkerboard RBM form of the torus has the torus's exact ln Z (enumerating the RBM's
/// hidden side against the transfer matrix), at L = 2 (double bonds), 4 and 6.
#[test]
fn ising_as_rbm_has_the_exact_partition_function() {
    use emf_rbm::estimate::exact;
    use emf_rbm::ising::bipartite::ising_as_rbm;
    for l in [2, 4, 6] {
        for t in [1.5, 2.269, 3.5] {
            let m = ising_as_rbm(l, t).unwrap();
            assert_eq!(m.rbm.n_visible(), l * l / 2);
            let z = exact::log_partition(&m.rbm).unwrap() + m.ln_z_offset;
            let want = emf_rbm::ising::exact_finite(l, t).unwrap().ln_z;
            assert!(
                (z - want).abs() < 1e-9 * want.abs(),
                "L {l} T {t}: {z} vs {want}"
            );
        }
    }
    assert!(ising_as_rbm(5, 2.0).is_err());
    assert!(ising_as_rbm(4, 0.0).is_err());
}

/// `KL(p_Ising || p_model)` per spin against exact enumeration on the 3 x 3 torus: 40 000
/// exact draws from the Ising distribution give an estimate within 4 standard errors of the
/// exact divergence, and the model's ln Z interval moves it by exactly its width per spin.
#[test]
fn ising_divergence_matches_exact_enumeration() {
    use emf_rbm::estimate::exact::log_partition;
    use emf_rbm::ising::divergence::{ising_divergence, reduced_energy};
    use emf_rbm::stack::{LnZ, LnZMethod};
    use rand::Rng as _;
    let (l, t) = (3, 2.5);
    let n = l * l;
    let model = emf_rbm::Rbm::<f64>::random(n, 5, 0.6, &mut emf_rbm::rng::rng(4)).unwrap();
    let ln_z_model = log_partition(&model).unwrap();
    let ln_z_ising = exact_finite(l, t).unwrap().ln_z;
    // Every configuration, its exact Ising probability and model log-probability.
    let states: Vec<Vec<f64>> = (0..1usize << n)
        .map(|s| (0..n).map(|i| ((s >> i) & 1) as f64).collect())
        .collect();
    let all = emf_rbm::faer::Mat::<f64>::from_fn(states.len(), n, |r, i| states[r][i]);
    let free = model.free_energy(all.as_ref());
    let p: Vec<f64> = states
        .iter()
        .map(|v| (-reduced_energy(v, l, t) - ln_z_ising).exp())
        .collect();
    assert!(
        (p.iter().sum::<f64>() - 1.0).abs() < 1e-12,
        "exact_finite's ln Z normalises"
    );
    let exact: f64 = p
        .iter()
        .zip(&free)
        .map(|(&pi, &f)| pi * (pi.ln() + f + ln_z_model))
        .sum::<f64>()
        / n as f64;
    // Exact draws by inverse CDF.
    let mut r = emf_rbm::rng::rng(5);
    let cdf: Vec<f64> = p
        .iter()
        .scan(0.0, |c, &x| {
            *c += x;
            Some(*c)
        })
        .collect();
    let rows = 40_000;
    let mut data = Vec::with_capacity(rows * n);
    for _ in 0..rows {
        let u = r.random::<f64>();
        let s = cdf.partition_point(|&c| c < u).min(states.len() - 1);
        data.extend_from_slice(&states[s]);
    }
    let samples = emf_rbm::data::Dataset::new(data, n, None).unwrap();
    let z = LnZ {
        value: ln_z_model,
        lower: ln_z_model - 0.9,
        upper: ln_z_model + 0.45,
        method: LnZMethod::Ais,
    };
    let kl = ising_divergence(&model, &samples, l, t, &z).unwrap();
    assert!(
        (kl.per_spin - exact).abs() < 4.0 * kl.std_err,
        "estimate {} +- {}, exact {exact}",
        kl.per_spin,
        kl.std_err
    );
    assert!(kl.std_err < 0.01 * exact, "{} against {exact}", kl.std_err);
    assert!((kl.per_spin_range.0 - (kl.per_spin - 0.1)).abs() < 1e-12);
    assert!((kl.per_spin_range.1 - (kl.per_spin + 0.05)).abs() < 1e-12);
    assert_eq!((kl.n_samples, kl.neg_log_probs.len()), (rows, rows));
    // The slope of -ln p_model on -ln p_Ising, recomputed from the pairs.
    let m =
        |f: &dyn Fn(&(f64, f64)) -> f64| kl.neg_log_probs.iter().map(f).sum::<f64>() / rows as f64;
    let (mx, my) = (m(&|p| p.0), m(&|p| p.1));
    let slope = m(&|p| (p.0 - mx) * (p.1 - my)) / m(&|p| (p.0 - mx).powi(2));
    assert!((kl.slope - slope).abs() < 1e-9);
    // The model that IS the Ising distribution (up to ln Z): slope 1, divergence 0.
    let ising = emf_rbm::Rbm::<f64>::zeros(n, 1).unwrap();
    let flat = LnZ {
        value: n as f64 * 2f64.ln() + 2f64.ln(),
        lower: 0.0,
        upper: 0.0,
        method: LnZMethod::Exact,
    };
    let uniform = ising_divergence(&ising, &samples, l, 1e9, &flat).unwrap();
    assert!(uniform.per_spin.abs() < 1e-6, "{}", uniform.per_spin);
    // Bad shapes are errors that say what was expected.
    let wrong = emf_rbm::Rbm::<f64>::random(8, 5, 0.6, &mut emf_rbm::rng::rng(4)).unwrap();
    let e = ising_divergence(&wrong, &samples, l, t, &z)
        .unwrap_err()
        .to_string();
    assert!(e.contains("9 spins") && e.contains("8 visible"), "{e}");
}

/// Maximum pseudo-likelihood on exact-enough Ising samples recovers `J_nn = beta` and
/// `J_diag = 0` within 4 standard errors at three temperatures, and the sandwich standard
/// error matches the spread of the estimate over independent sample sets.
#[test]
fn pseudo_likelihood_recovers_the_ising_couplings() {
    use emf_rbm::ising::block::{fit_couplings, majority_blocks};
    for (t, seed) in [(2.27, 1), (3.0, 2), (5.0, 3)] {
        let s = sample_ising(&IsingConfig {
            seed,
            ..IsingConfig::new(8, t, 3000)
        })
        .unwrap();
        let fit = fit_couplings(&s.dataset, 8).unwrap();
        assert!(fit.converged, "{fit:?}");
        assert!(
            (fit.j_nn - 1.0 / t).abs() < 4.0 * fit.j_nn_se,
            "T = {t}: {fit:?}"
        );
        assert!(fit.j_diag.abs() < 4.0 * fit.j_diag_se, "T = {t}: {fit:?}");
        assert!(fit.j_nn_se < 0.03, "T = {t}: {fit:?}");
    }
    // The standard error against the spread over 6 independent sample sets at T = 3.
    let fits: Vec<f64> = (10..16)
        .map(|seed| {
            let s = sample_ising(&IsingConfig {
                seed,
                ..IsingConfig::new(8, 3.0, 1000)
            })
            .unwrap();
            fit_couplings(&s.dataset, 8).unwrap().j_nn
        })
        .collect();
    let mean = fits.iter().sum::<f64>() / 6.0;
    let sd = (fits.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
    let s = sample_ising(&IsingConfig {
        seed: 10,
        ..IsingConfig::new(8, 3.0, 1000)
    })
    .unwrap();
    let se = fit_couplings(&s.dataset, 8).unwrap().j_nn_se;
    assert!(
        sd < 3.0 * se && sd > se / 3.0,
        "spread {sd} against standard error {se}"
    );
    // Majority blocks of all-up and all-down samples stay all up and all down; bad sizes fail.
    let d = emf_rbm::data::Dataset::new([vec![1.0; 64], vec![0.0; 64]].concat(), 64, None).unwrap();
    let c = majority_blocks(&d, 8, 2).unwrap();
    assert_eq!(c.n_features(), 16);
    assert_eq!(
        c.as_slice(),
        [vec![1.0; 16], vec![0.0; 16]].concat().as_slice()
    );
    assert!(majority_blocks(&d, 8, 3).is_err() && fit_couplings(&c, 8).is_err());
}
