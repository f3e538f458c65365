//! Issue 5: the 2D Ising sampler against the exact solution, and the inverse Ising problem.

use emf_rbm::ising::{
    exact_energy_per_site, exact_magnetization, sample_ising, IsingAlgorithm, IsingConfig,
    CRITICAL_TEMPERATURE,
};

#[test]
fn exact_references_match_known_values() {
    // MATH.md section 6 (K = 1/T).
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

/// Tolerances. Energy: the samples are spaced by 5 integrated autocorrelation times, so they
/// are treated as independent: 5 standard errors, plus 2e-3 for the finite size (at T = 2 and 3
/// the correlation length is about one lattice spacing, so the L = 32 corrections to the
/// energy are exponentially small, ~e^{-L/xi}). |m| at T = 2: <|m|> exceeds M by
/// ~var(m)/(2M) = chi T/(2 M N) < 1e-3 at N = 1024, so 5 SE + 3e-3. |m| at T = 3 (M = 0): on a
/// finite torus <|m|> <= sqrt(<m^2>) = sqrt(chi~/N) with chi~ = sum_r <s0 sr>, and Fisher's
/// path bound <s0 sr> <= sum over self-avoiding walks t^len (t = tanh(1/T)) with at most
/// 4 3^(n-1) walks of length n gives chi~ <= 1 + 4t/(1-3t) = 37.3, i.e. <|m|> <= 0.19.
#[test]
fn sampler_matches_onsager_at_t2_and_t3() {
    for &(t, seed) in &[(2.0f64, 5u64), (3.0, 6)] {
        let mut per_algo = Vec::new();
        for algo in [IsingAlgorithm::Wolff, IsingAlgorithm::Metropolis] {
            let cfg = IsingConfig::new(32, t, 3000)
                .with_seed(seed)
                .with_algorithm(algo);
            let out = sample_ising(&cfg).unwrap();
            assert_eq!(out.dataset.n_samples(), 3000);
            assert_eq!(out.dataset.image_shape(), Some((32, 32)));
            let e = out.mean_energy();
            let se = out.energy_stderr();
            let u = exact_energy_per_site(t);
            assert!(
                (e - u).abs() < 5.0 * se + 2e-3,
                "T={t} {algo}: energy {e} +- {se}, exact {u} (tau {} spacing {})",
                out.tau_int,
                out.spacing
            );
            let m = out.mean_abs_magnetization();
            let sm = out.abs_magnetization_stderr();
            if t < CRITICAL_TEMPERATURE {
                let exact = exact_magnetization(t);
                assert!(
                    (m - exact).abs() < 5.0 * sm + 3e-3,
                    "T={t} {algo}: |m| {m} +- {sm}, exact {exact}"
                );
            } else {
                let th = (1.0 / t).tanh();
                let chi_bound = 1.0 + 4.0 * th / (1.0 - 3.0 * th);
                let bound = (chi_bound / 1024.0).sqrt();
                assert!(
                    m < bound + 5.0 * sm,
                    "T={t} {algo}: |m| {m} above finite-size bound {bound}"
                );
                assert!(m > 0.0);
            }
            // data rows are v = (s + 1)/2
            let row = out.dataset.row(0);
            let mag: f64 = row.iter().map(|v| 2.0 * v - 1.0).sum::<f64>() / 1024.0;
            assert!((mag - out.magnetization[0]).abs() < 1e-12);
            per_algo.push((e, se, m, sm));
        }
        // Wolff and Metropolis agree within their combined errors.
        let (e1, s1, m1, sm1) = per_algo[0];
        let (e2, s2, m2, sm2) = per_algo[1];
        assert!(
            (e1 - e2).abs() < 5.0 * (s1 * s1 + s2 * s2).sqrt(),
            "T={t}: energies {e1} vs {e2}"
        );
        assert!(
            (m1 - m2).abs() < 5.0 * (sm1 * sm1 + sm2 * sm2).sqrt() + 1e-3,
            "T={t}: |m| {m1} vs {m2}"
        );
    }
}

#[test]
fn sampler_is_reproducible_and_thread_count_independent() {
    let cfg = IsingConfig::new(8, 2.5, 40).with_seed(9);
    let a = sample_ising(&cfg).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let b = pool.install(|| sample_ising(&cfg).unwrap());
    assert_eq!(a.dataset.as_slice(), b.dataset.as_slice());
    assert_eq!(a.energy, b.energy);
    let c = sample_ising(&cfg.clone().with_seed(10)).unwrap();
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
    let data = sample_ising(&IsingConfig::new(l, t, 30000).with_seed(3))
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
