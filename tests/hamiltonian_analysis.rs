//! Analyses of the effective Hamiltonian: energies of every state from a table, truncated
//! expansions scored exactly, partial sums, pair expansions, coupling statistics, activation
//! weights and approximation errors; each against brute force.

mod common;
use common::random_rbm;

use emf_rbm::estimate::exact;
use emf_rbm::faer::Mat;
use emf_rbm::hamiltonian::{
    activation_weighted, approximation_error, random_subsets, truncation_scores, Basis, Coupling,
    CouplingTable, EffectiveHamiltonian, OrderSummary, SpinMethod, Subsets,
};
use emf_rbm::linalg::log_sum_exp;
use emf_rbm::rng::rng;
use rand::Rng as _;

/// Configuration `mask` in a basis: bit `i` set is 1, else 0 (lattice gas) or -1 (spin).
fn config(mask: usize, n: usize, basis: Basis) -> Vec<f64> {
    (0..n)
        .map(|i| match (mask >> i & 1 == 1, basis) {
            (true, _) => 1.0,
            (false, Basis::LatticeGas) => 0.0,
            (false, Basis::Spin) => -1.0,
        })
        .collect()
}

fn random_table(basis: Basis, n: usize, seed: u64) -> CouplingTable {
    let mut r = rng(seed);
    let values = (0..1usize << n).map(|_| r.random::<f64>() - 0.5).collect();
    CouplingTable::new(basis, n, values).unwrap()
}

/// Random binary data, `rows x n`.
fn random_data(rows: usize, n: usize, p: f64, seed: u64) -> Mat<f64> {
    let mut r = rng(seed);
    Mat::from_fn(rows, n, |_, _| f64::from(r.random::<f64>() < p))
}

#[test]
fn log_weights_match_term_by_term_evaluation_and_invert() {
    for basis in [Basis::LatticeGas, Basis::Spin] {
        let t = random_table(basis, 7, 3);
        let fast = t.log_weights();
        for (mask, &e) in fast.iter().enumerate() {
            let slow = t.evaluate(&config(mask, 7, basis));
            assert!(
                (e - slow).abs() < 1e-12,
                "{basis} state {mask}: {e} vs {slow}"
            );
        }
        let back = CouplingTable::from_log_weights(basis, 7, fast).unwrap();
        for (a, b) in back.values().iter().zip(t.values()) {
            assert!((a - b).abs() < 1e-12, "{basis}: {a} vs {b}");
        }
    }
    assert!(CouplingTable::from_log_weights(Basis::Spin, 3, vec![0.0; 7]).is_err());
}

#[test]
fn fast_spin_table_equals_the_closed_forms() {
    let rbm = random_rbm(11, 5, 1.3, 1.0, 12);
    let ham = EffectiveHamiltonian::new(&rbm);
    let weights = ham.log_weights().unwrap();
    for mask in [0usize, 1, 0b10110011101, (1 << 11) - 1] {
        let v = config(mask, 11, Basis::LatticeGas);
        assert!((weights[mask] + ham.energy(&v)).abs() < 1e-12);
    }
    let fast = ham.table_spin_exact().unwrap();
    let slow = ham.table().unwrap().to_spin();
    let worst = fast
        .values()
        .iter()
        .zip(slow.values())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-12, "{worst}");
    assert!(EffectiveHamiltonian::new(&random_rbm(25, 2, 1.0, 1.0, 1))
        .log_weights()
        .is_err());
}

#[test]
fn partial_sums_of_a_table_add_up_by_order() {
    let t = random_table(Basis::Spin, 6, 4);
    let x = config(0b101101, 6, Basis::Spin);
    let sums = t.partial_sums(&x);
    assert!((sums[6] - t.evaluate(&x)).abs() < 1e-12);
    for k in 0..=6 {
        let direct = t.truncated(k).evaluate(&x);
        assert!((sums[k] - direct).abs() < 1e-12, "order {k}");
    }
}

/// KL and log-likelihood of every truncation against brute force over the states, and the
/// complete expansion against the exact log-likelihood of the RBM itself.
#[test]
fn truncation_scores_are_exact() {
    let rbm = random_rbm(8, 5, 1.2, 1.0, 5);
    let ham = EffectiveHamiltonian::new(&rbm);
    let data = random_data(40, 8, 0.4, 6);
    for table in [ham.table().unwrap(), ham.table().unwrap().to_spin()] {
        let basis = table.basis();
        let scores = truncation_scores(&table, data.as_ref()).unwrap();
        assert_eq!(scores.len(), 9);
        let full: Vec<f64> = (0..256)
            .map(|m| table.evaluate(&config(m, 8, basis)))
            .collect();
        let ln_z = log_sum_exp(&full);
        for s in &scores {
            let trunc = table.truncated(s.order);
            let part: Vec<f64> = (0..256)
                .map(|m| trunc.evaluate(&config(m, 8, basis)))
                .collect();
            let ln_zk = log_sum_exp(&part);
            let kl: f64 = (0..256)
                .map(|m| (full[m] - ln_z).exp() * (full[m] - ln_z - part[m] + ln_zk))
                .sum();
            assert!(
                (s.kl - kl.max(0.0)).abs() < 1e-10,
                "{basis} k={}: {} vs {kl}",
                s.order,
                s.kl
            );
            let ll: f64 = (0..40)
                .map(|r| {
                    let v: Vec<f64> = (0..8).map(|i| data[(r, i)]).collect();
                    let x: Vec<f64> = match basis {
                        Basis::LatticeGas => v,
                        Basis::Spin => v.iter().map(|x| 2.0 * x - 1.0).collect(),
                    };
                    trunc.evaluate(&x) - ln_zk
                })
                .sum::<f64>()
                / 40.0;
            assert!(
                (s.log_likelihood - ll).abs() < 1e-10,
                "{basis} k={}",
                s.order
            );
        }
        let last = scores.last().unwrap();
        assert!(last.kl < 1e-12 && last.fit.rms < 1e-10);
        let exact_ll = exact::mean_log_likelihood(&rbm, data.as_ref()).unwrap();
        assert!((last.log_likelihood - exact_ll).abs() < 1e-10, "{basis}");
        assert!(
            scores[1].kl > 1e-3,
            "a truncation to fields must lose something"
        );
    }
}

#[test]
fn truncation_scores_refuse_bad_data() {
    let table = random_table(Basis::LatticeGas, 3, 1);
    let wrong_width = random_data(4, 4, 0.5, 1);
    assert!(truncation_scores(&table, wrong_width.as_ref()).is_err());
    let mut not_binary = random_data(4, 3, 0.5, 1);
    not_binary[(2, 1)] = 0.5;
    let e = truncation_scores(&table, not_binary.as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 2, column 1"), "{e}");
}

#[test]
fn lattice_gas_partial_sums_match_the_table() {
    let rbm = random_rbm(10, 6, 1.0, 1.0, 7);
    let ham = EffectiveHamiltonian::new(&rbm);
    let table = ham.table().unwrap();
    let v = config(0b1011011001, 10, Basis::LatticeGas);
    let from_table = table.partial_sums(&v);
    let direct = ham.lattice_gas_partial_sums(&v, 10).unwrap();
    for k in 0..=10 {
        assert!((direct[k] - from_table[k]).abs() < 1e-10, "order {k}");
    }
    // Six on-units: everything is in by order 6.
    assert!((direct[6] + ham.energy(&v)).abs() < 1e-10);
    assert!(ham.lattice_gas_partial_sums(&[0.5; 10], 2).is_err());
    assert!(ham.lattice_gas_partial_sums(&[1.0; 9], 2).is_err());
}

#[test]
fn pair_expansions_match_the_table() {
    let rbm = random_rbm(8, 4, 0.9, 1.0, 8);
    let ham = EffectiveHamiltonian::new(&rbm);
    let k = ham.table().unwrap();
    for (basis, table) in [(Basis::LatticeGas, k.clone()), (Basis::Spin, k.to_spin())] {
        let e = ham.pair_expansion(basis, &SpinMethod::Enumeration).unwrap();
        for mask in [0usize, 0b10110101, 0b11111111] {
            let x = config(mask, 8, basis);
            let want = table.partial_sums(&x);
            let got = e.partial_sums(&x);
            for order in 0..3 {
                assert!(
                    (got[order] - want[order]).abs() < 1e-10,
                    "{basis} {mask} {order}"
                );
            }
        }
    }
}

#[test]
fn random_subsets_are_distinct_and_uniform() {
    // 15 pairs of 6 units, 8 per draw (at least half of them: the dense path): each pair is
    // drawn 8/15 of the time.
    let mut counts = std::collections::HashMap::new();
    for seed in 0..3000 {
        let s = random_subsets(6, 2, 8, seed).unwrap();
        assert!(s.windows(2).all(|p| p[0] < p[1]));
        for t in s {
            *counts.entry(t).or_insert(0usize) += 1;
        }
    }
    assert_eq!(counts.len(), 15);
    for (t, c) in &counts {
        // mean 1600, sd at most 27
        assert!(c.abs_diff(1600) < 140, "{t:?} drawn {c} times");
    }
    // Sparse path (Floyd's sampling): 120 triples of 10 units, 10 per draw.
    let mut counts = [0usize; 10];
    for seed in 0..2000 {
        let s = random_subsets(10, 3, 10, seed).unwrap();
        assert_eq!(s.len(), 10);
        assert!(s.windows(2).all(|p| p[0] < p[1]));
        for t in s {
            assert!(t[0] < t[1] && t[1] < t[2] && t[2] < 10);
            for u in t {
                counts[u] += 1;
            }
        }
    }
    for (u, c) in counts.iter().enumerate() {
        // each unit is in 3/10 of the 20 000 triples: mean 6 000, sd about 65
        assert!(c.abs_diff(6000) < 350, "unit {u} in {c} triples");
    }
    assert!(random_subsets(5, 2, 11, 1).is_err());
    assert_eq!(random_subsets(5, 2, 10, 1).unwrap().len(), 10);
}

#[test]
fn activation_weights_count_coactive_rows() {
    let data = random_data(150, 9, 0.6, 9); // more than two 64-bit words of rows
    let couplings: Vec<Coupling> = Subsets::new(9, 3)
        .map(|units| Coupling {
            value: units.iter().sum::<usize>() as f64,
            units,
        })
        .collect();
    let weighted = activation_weighted(&couplings, data.as_ref()).unwrap();
    for (w, c) in weighted.iter().zip(&couplings) {
        let on = (0..150)
            .filter(|&r| c.units.iter().all(|&i| data[(r, i)] == 1.0))
            .count() as f64
            / 150.0;
        assert_eq!(w.frequency, on);
        assert_eq!(w.weighted, c.value * on);
    }
    let out_of_range = vec![Coupling {
        units: vec![2, 9],
        value: 1.0,
    }];
    assert!(activation_weighted(&out_of_range, data.as_ref()).is_err());
}

#[test]
fn approximation_errors_against_an_exact_table() {
    let rbm = random_rbm(10, 4, 0.6, 0.5, 10);
    let ham = EffectiveHamiltonian::new(&rbm);
    let exact_spin = ham.table().unwrap().to_spin();
    let triples: Vec<Vec<usize>> = Subsets::new(10, 3).collect();
    let exact = ham
        .couplings_of(&triples, Basis::Spin, &SpinMethod::Enumeration)
        .unwrap();
    let e = approximation_error(&exact, &exact_spin).unwrap();
    assert_eq!((e.order, e.count), (3, 120));
    assert!(
        e.max_abs_error < 1e-12,
        "exact vs exact: {}",
        e.max_abs_error
    );
    let gauss = SpinMethod::Gaussian { tol: 1e-12 };
    let approx = ham.couplings_of(&triples, Basis::Spin, &gauss).unwrap();
    let e = approximation_error(&approx, &exact_spin).unwrap();
    let max = approx
        .iter()
        .zip(&exact)
        .map(|(a, x)| (a.value - x.value).abs())
        .fold(0.0, f64::max);
    assert!(max > 1e-8 && (e.max_abs_error - max).abs() < 1e-15);
    assert!(e.median_abs_error > 0.0 && e.median_abs_error <= max && e.rms_error <= max);
    let mixed = vec![
        exact[0].clone(),
        Coupling {
            units: vec![1, 2],
            value: 0.0,
        },
    ];
    assert!(approximation_error(&mixed, &exact_spin).is_err());
}

#[test]
fn order_summaries() {
    let c: Vec<Coupling> = (0..5)
        .map(|t| Coupling {
            units: vec![t, t + 1],
            value: [0.2, -0.05, 0.001, -0.3, 0.02][t],
        })
        .collect();
    let s = OrderSummary::of(Basis::LatticeGas, &c, true).unwrap();
    assert_eq!(
        (s.order, s.count, s.max_abs, s.median_abs),
        (2, 5, 0.3, 0.05)
    );
    assert_eq!((s.above_tenth, s.above_hundredth), (0.4, 0.8));
    assert_eq!(s.largest.units, vec![3, 4]);
    assert!((s.mean_abs - 0.571 / 5.0).abs() < 1e-15);
    let mut mixed = c.clone();
    mixed.push(Coupling {
        units: vec![1],
        value: 1.0,
    });
    assert!(OrderSummary::of(Basis::LatticeGas, &mixed, false).is_err());
    assert!(OrderSummary::of(Basis::LatticeGas, &[], false).is_err());
}
