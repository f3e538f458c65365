//! The effective visible Hamiltonian and its couplings.

mod common;
use common::random_rbm;

use emf_rbm::faer::Mat;
use emf_rbm::hamiltonian::scalar::{
    alternating_sum, bound_constant, d_subset, softplus_derivatives,
};
use emf_rbm::hamiltonian::{
    lattice_neighbourhoods, Basis, CouplingTable, EffectiveHamiltonian, SpinMethod, Subsets,
};
use emf_rbm::rng::rng;
use emf_rbm::Rbm;
use rand::Rng as _;

fn config(mask: usize, n: usize, spin: bool) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let on = mask >> i & 1 == 1;
            match (on, spin) {
                (true, _) => 1.0,
                (false, false) => 0.0,
                (false, true) => -1.0,
            }
        })
        .collect()
}

#[test]
fn reconstruction_lattice_gas_all_subsets() {
    for (nv, nh, sigma, seed) in [
        (5, 3, 1.0, 1),
        (8, 6, 0.8, 2),
        (10, 7, 1.5, 3),
        (10, 4, 0.05, 4),
    ] {
        let rbm = random_rbm(nv, nh, sigma, 1.0, seed);
        let ham = EffectiveHamiltonian::new(&rbm);
        let table = ham.table().unwrap();
        assert_eq!(table.basis(), Basis::LatticeGas);
        let mut worst: f64 = 0.0;
        for mask in 0..1usize << nv {
            let v = config(mask, nv, false);
            worst = worst.max((table.evaluate(&v) + ham.energy(&v)).abs());
        }
        assert!(
            worst < 1e-10,
            "nv={nv}: worst |sum K_S prod v + H_eff| = {worst}"
        );
    }
}

#[test]
fn reconstruction_spin_basis_all_subsets() {
    for (nv, nh, sigma, seed) in [(5, 3, 1.0, 11), (8, 5, 0.7, 12), (10, 6, 1.2, 13)] {
        let rbm = random_rbm(nv, nh, sigma, 1.0, seed);
        let ham = EffectiveHamiltonian::new(&rbm);
        let table = ham.table_spin(&SpinMethod::Enumeration).unwrap();
        let mut worst: f64 = 0.0;
        for mask in 0..1usize << nv {
            let s = config(mask, nv, true);
            worst = worst.max((table.evaluate(&s) + ham.energy_spin(&s)).abs());
        }
        assert!(
            worst < 1e-10,
            "nv={nv}: worst |sum J_S prod s + H_eff| = {worst}"
        );
        // The exact convolution gives the same couplings.
        let conv = ham
            .table_spin(&SpinMethod::Convolution { max_support: 16 })
            .unwrap();
        for (x, y) in table.values().iter().zip(conv.values()) {
            assert!((x - y).abs() < 1e-12);
        }
    }
}

#[test]
fn bases_related_by_triangular_transform() {
    let rbm = random_rbm(9, 5, 1.0, 1.0, 21);
    let ham = EffectiveHamiltonian::new(&rbm);
    let k = ham.table().unwrap();
    let j = ham.table_spin(&SpinMethod::Enumeration).unwrap();
    let k_to_j = k.to_spin();
    let j_to_k = j.to_lattice_gas();
    for m in 0..1usize << 9 {
        assert!(
            (k_to_j.values()[m] - j.values()[m]).abs() < 1e-10,
            "J mask {m}"
        );
        assert!(
            (j_to_k.values()[m] - k.values()[m]).abs() < 1e-9,
            "K mask {m}"
        );
    }
    // Top order: K_S = 2^|S| J_S exactly.
    let full = (1usize << 9) - 1;
    assert!(
        (k.values()[full] - 512.0 * j.values()[full]).abs()
            < 1e-12 * k.values()[full].abs().max(1e-300) + 1e-15
    );
    // J_S = sum_{T superset S} 2^-|T| K_T, written out for one pair.
    let s = [2usize, 5];
    let mut sum = 0.0;
    for m in 0..1usize << 9 {
        if m & (1 << 2) != 0 && m & (1 << 5) != 0 {
            sum += k.values()[m] * 0.5f64.powi(m.count_ones() as i32);
        }
    }
    assert!((sum - ham.coupling_spin(&s, &SpinMethod::Enumeration).unwrap()).abs() < 1e-12);
}

#[test]
fn closed_forms_equal_alternating_sum_for_moderate_weights() {
    let mut r = rng(31);
    let mut worst: f64 = 0.0;
    for _ in 0..3000 {
        let k = 1 + (r.random::<f64>() * 7.0) as usize;
        let b = 8.0 * r.random::<f64>() - 4.0;
        let x: Vec<f64> = (0..k)
            .map(|_| {
                let m = 0.3 + 2.7 * r.random::<f64>();
                if r.random::<bool>() {
                    m
                } else {
                    -m
                }
            })
            .collect();
        let d = d_subset(b, &x);
        let a = alternating_sum(b, &x);
        worst = worst.max((d - a).abs());
    }
    // The alternating sum itself is accurate to ~2^k ulps of the softplus values here.
    assert!(worst < 1e-12, "worst difference {worst}");
}

/// `sp^(k)(b)` from the Bernoulli cumulants (docs/MATH.md section 5): independent of the code under
/// test.
fn cumulant(k: usize, b: f64) -> f64 {
    let s = 1.0 / (1.0 + (-b).exp());
    let p = s * (1.0 - s);
    match k {
        2 => p,
        3 => p * (1.0 - 2.0 * s),
        4 => p * (1.0 - 6.0 * p),
        _ => unreachable!(),
    }
}

/// High-precision reference for tiny steps: `D_S = prod x_i * int_[0,1]^k sp^(k)(b + sum t_i x_i)`
/// by tensor Gauss-Legendre (3 nodes per axis: exact for polynomials of degree 5 in each `t_i`;
/// the integrand's variation over the cube is `O(sum|x|)`, so the rule's error is
/// `O((sum|x|)^6)` relative, i.e. below 1e-20 for `sum|x| < 1e-3`; the integrand itself is
/// evaluated to a few ulps away from the zeros of the cumulant).
fn box_integral(b: f64, x: &[f64]) -> f64 {
    let nodes = [
        (0.5 - 0.5 * (0.6f64).sqrt(), 5.0 / 18.0),
        (0.5, 8.0 / 18.0),
        (0.5 + 0.5 * (0.6f64).sqrt(), 5.0 / 18.0),
    ];
    let k = x.len();
    let mut sum = 0.0;
    let total = 3usize.pow(k as u32);
    for idx in 0..total {
        let mut t = idx;
        let mut arg = b;
        let mut w = 1.0;
        for xi in x {
            let (node, weight) = nodes[t % 3];
            t /= 3;
            arg += node * xi;
            w *= weight;
        }
        sum += w * cumulant(k, arg);
    }
    sum * x.iter().product::<f64>()
}

#[test]
fn closed_forms_stay_accurate_for_tiny_weights() {
    let mut r = rng(41);
    let mut worst: f64 = 0.0;
    let mut worst_alt: f64 = 0.0;
    for scale in [1e-4, 1e-5, 1e-6, 1e-7, 1e-8] {
        for _ in 0..200 {
            let k = 2 + (r.random::<f64>() * 3.0) as usize;
            // biases away from the zeros of the cumulants (where only absolute accuracy holds)
            let b = loop {
                let b = 10.0 * r.random::<f64>() - 5.0;
                let s = 1.0 / (1.0 + (-b).exp());
                let p = s * (1.0 - s);
                if (1.0 - 2.0 * s).abs() > 0.05 && (1.0 - 6.0 * p).abs() > 0.05 {
                    break b;
                }
            };
            let x: Vec<f64> = (0..k)
                .map(|_| scale * (2.0 * r.random::<f64>() - 1.0))
                .collect();
            let reference = box_integral(b, &x);
            let rel = (d_subset(b, &x) - reference).abs() / reference.abs();
            worst = worst.max(rel);
            let rel_alt = (alternating_sum(b, &x) - reference).abs() / reference.abs();
            worst_alt = worst_alt.max(rel_alt);
        }
    }
    assert!(worst < 1e-9, "closed forms: worst relative error {worst}");
    // The naive sum is useless there: this is what the test guards against.
    assert!(
        worst_alt > 1e-3,
        "alternating sum unexpectedly accurate ({worst_alt})"
    );
}

#[test]
#[allow(clippy::excessive_precision)] // the 25-digit references are kept as computed
fn closed_forms_match_80_digit_references() {
    // D_S(b) by the alternating sum in 80-digit arithmetic (mpmath), inputs taken as the exact
    // binary values of these f64 literals. Produced by tests/reference/d_subset_references.py
    // (`python3 tests/reference/d_subset_references.py --check` recomputes them and compares
    // them with this table; at 80 digits they agree with a 160-digit run to 1e-47).
    let cases: &[(f64, &[f64], f64)] = &[
        (0.3, &[1e-07, -2e-07], -4.889166270211093295763668e-15),
        (
            -1.2,
            &[3e-06, 5e-06, -4e-06],
            -5.732286501118749430125813e-18,
        ),
        (
            2.0,
            &[1e-08, 1e-08, 1e-08, 1e-08],
            3.885166796388790385232736e-34,
        ),
        (
            -0.4,
            &[0.0001, -0.0003, 0.0002, 5e-05],
            3.182785240981178344870319e-17,
        ),
        (
            0.0,
            &[1e-05, 0.002, 0.7, 1.5, -2.0],
            -3.985953927927289356865926e-10,
        ),
        (
            -3.0,
            &[0.01, 0.02, -0.015, 0.03, 0.01, -0.02],
            -1.026784736455564365708963e-13,
        ),
        (
            1.0,
            &[0.2, 0.2, 0.2, 0.2, 0.2, 0.2],
            -0.000007374098004038308481107376,
        ),
        (
            0.5,
            &[0.004, -0.006, 0.008, 0.3, -0.5],
            2.448428896666113141442409e-9,
        ),
        (-0.5, &[1e-09, 2e-09], 4.700074245758594209842371e-19),
        (
            25.0,
            &[1e-06, 2e-06, 3e-06],
            -8.332741320258915869120833e-29,
        ),
        (
            -30.0,
            &[0.001, -0.001, 0.002],
            -1.873397522784707238319445e-22,
        ),
        (
            -1.3169578969248168,
            &[1e-06, 1e-06, 1e-06],
            9.622504486481733296569461e-20,
        ),
        (0.7, &[30.0, -30.0], -28.4936279022293191365226),
        (
            0.0,
            &[40.0, -40.0, 0.001],
            0.0000002499999895833340339377105,
        ),
    ];
    for &(b, x, reference) in cases {
        let got = d_subset(b, x);
        let rel = (got - reference).abs() / reference.abs();
        assert!(
            rel < 1e-9,
            "b={b} x={x:?}: {got} vs {reference} (rel {rel:e})"
        );
        // Bound-relative accuracy is near machine precision.
        let bound = bound_constant(x.len()) * x.iter().map(|v| v.abs()).product::<f64>();
        assert!((got - reference).abs() < 1e-12 * bound, "b={b} x={x:?}");
    }
}

#[test]
fn rigorous_bounds_hold() {
    let mut r = rng(51);
    for _ in 0..5000 {
        let k = 2 + (r.random::<f64>() * 6.0) as usize;
        let b = 16.0 * r.random::<f64>() - 8.0;
        let scale = 10f64.powf(-3.0 + 3.5 * r.random::<f64>());
        let x: Vec<f64> = (0..k)
            .map(|_| scale * (2.0 * r.random::<f64>() - 1.0))
            .collect();
        let bound = bound_constant(k) * x.iter().map(|v| v.abs()).product::<f64>();
        let d = d_subset(b, &x);
        assert!(
            d.abs() <= bound * (1.0 + 1e-9) + 1e-300,
            "k={k} b={b} x={x:?}: {d} > {bound}"
        );
    }
    // c_k is the supremum of |sp^(k)|: approached on a fine grid, never exceeded.
    for k in 2..=8 {
        let mut m: f64 = 0.0;
        for t in -4000..=4000 {
            let d = softplus_derivatives(t as f64 * 1e-3, k);
            m = m.max(d[k].abs());
        }
        assert!(m <= bound_constant(k) * (1.0 + 1e-12));
        assert!(m >= bound_constant(k) * (1.0 - 1e-5), "k={k}: {m}");
    }
    assert!((bound_constant(3) - 3f64.sqrt() / 18.0).abs() < 1e-16);
}

#[test]
fn lattice_gas_couplings_are_local() {
    let rbm = random_rbm(7, 5, 1.0, 1.0, 61);
    let ham = EffectiveHamiltonian::new(&rbm);
    let subsets: Vec<Vec<usize>> = vec![vec![1], vec![0, 3], vec![2, 4, 6], vec![0, 1, 5, 6]];
    let before: Vec<f64> = subsets.iter().map(|s| ham.coupling(s).unwrap()).collect();
    let j_before = ham
        .coupling_spin(&[0, 3], &SpinMethod::Enumeration)
        .unwrap();
    for (s, &k) in subsets.iter().zip(&before) {
        let mut other = rbm.clone();
        let mut r = rng(62);
        for i in 0..7 {
            if s.contains(&i) {
                continue;
            }
            other.a[i] += 1.0;
            for j in 0..5 {
                other.w[(i, j)] += 2.0 * r.random::<f64>() - 1.0;
            }
        }
        let h2 = EffectiveHamiltonian::new(&other);
        assert_eq!(
            h2.coupling(s).unwrap(),
            k,
            "K_{s:?} changed with outside weights"
        );
        if s == &vec![0, 3] {
            // The spin basis is not local: the same change moves J_S.
            let j_after = h2.coupling_spin(s, &SpinMethod::Enumeration).unwrap();
            assert!((j_after - j_before).abs() > 1e-4);
        }
        // A weight inside S does change K_S.
        let mut inside = rbm.clone();
        inside.w[(s[0], 2)] += 0.5;
        let h3 = EffectiveHamiltonian::new(&inside);
        assert!((h3.coupling(s).unwrap() - k).abs() > 1e-8);
    }
}

/// The periodic chain of 2N sites at coupling K with odd sites visible and even sites hidden.
/// Bond (v_i, h_m): K(2v-1)(2h-1) = 4K v h - 2K v - 2K h + K, every unit has two bonds, so
/// W = 4K on the bonds, a = b = -4K, and -E_chain = -E_rbm + 2 N K.
fn decimation_chain(n: usize, k: f64) -> Rbm<f64> {
    let mut w = Mat::<f64>::zeros(n, n);
    for m in 0..n {
        // hidden m is site 2m; its neighbours are sites 2m-1 (visible m-1) and 2m+1 (visible m)
        w[(m, m)] = 4.0 * k;
        w[((m + n - 1) % n, m)] = 4.0 * k;
    }
    Rbm::from_parts(w, vec![-4.0 * k; n], vec![-4.0 * k; n]).unwrap()
}

#[test]
fn exact_decimation_of_the_ising_chain() {
    for (n, k) in [(6usize, 0.7f64), (5, 0.31), (7, 1.3)] {
        let rbm = decimation_chain(n, k);
        let ham = EffectiveHamiltonian::new(&rbm);
        // The RBM is the chain: ln sum_h exp(-E_rbm) + 2NK = ln sum_h exp(K sum sigma sigma).
        let v = config(0b10110 & ((1 << n) - 1), n, false);
        let mut z = 0.0;
        for hm in 0..1usize << n {
            let h = config(hm, n, true);
            let s = config(0b10110 & ((1 << n) - 1), n, true);
            let mut e = 0.0;
            for m in 0..n {
                e += k * h[m] * (s[m] + s[(m + n - 1) % n]);
            }
            z += e.exp();
        }
        assert!((z.ln() - (-ham.energy(&v) + 2.0 * n as f64 * k)).abs() < 1e-10);

        let kp = k.tanh().powi(2).atanh();
        let j0 = n as f64 * (2f64.ln() + 0.5 * (2.0 * k).cosh().ln() - 2.0 * k);
        let mut expect = vec![0.0; 1 << n];
        expect[0] = j0;
        for m in 0..n {
            expect[(1 << m) | (1 << ((m + 1) % n))] = kp;
        }
        let truth = CouplingTable::new(Basis::Spin, n, expect).unwrap();
        for method in [
            SpinMethod::Enumeration,
            SpinMethod::Convolution { max_support: 4 },
            SpinMethod::Hybrid {
                max_support: 4,
                tol: 1e-12,
            },
        ] {
            let j = ham.table_spin(&method).unwrap();
            for (mask, (&got, &want)) in j.values().iter().zip(truth.values()).enumerate() {
                assert!(
                    (got - want).abs() < 1e-10,
                    "n={n} K={k} {method}: J[{mask:b}] = {got}, expected {want}"
                );
            }
        }
        // Lattice-gas basis: the exact image of the spin couplings.
        let k_table = ham.table().unwrap();
        let image = truth.to_lattice_gas();
        for (mask, (&got, &want)) in k_table.values().iter().zip(image.values()).enumerate() {
            assert!(
                (got - want).abs() < 1e-10,
                "n={n}: K[{mask:b}] = {got}, image {want}"
            );
        }
        // Written out: K_nn = 4K', K_i = -4K', higher orders vanish.
        assert!((ham.coupling(&[0, 1]).unwrap() - 4.0 * kp).abs() < 1e-10);
        assert!((ham.fields()[2] + 4.0 * kp).abs() < 1e-10);
        assert!(ham.coupling(&[0, 1, 2]).unwrap().abs() < 1e-10);
        let pm = ham.pair_matrix_spin(&SpinMethod::Enumeration).unwrap();
        assert!((pm[(3, 4)] - kp).abs() < 1e-10 && pm[(0, 2)].abs() < 1e-10);
    }
}

#[test]
fn pair_matrix_matches_single_couplings() {
    let mut rbm = random_rbm(37, 29, 1.0, 2.0, 71);
    // Some extreme weights to exercise the scalar fallbacks.
    rbm.w[(3, 4)] = 45.0;
    rbm.w[(5, 4)] = -45.0;
    rbm.w[(7, 1)] = 1e-9;
    rbm.w[(8, 1)] = -3e-10;
    rbm.w[(9, 2)] = 0.0;
    let ham = EffectiveHamiltonian::new(&rbm);
    let m = ham.pair_matrix();
    for i in 0..37 {
        assert_eq!(m[(i, i)], 0.0);
        for k in 0..37 {
            if i == k {
                continue;
            }
            let c = ham.coupling(&[i, k]).unwrap();
            assert!(
                (m[(i, k)] - c).abs() <= 1e-13 * (1.0 + c.abs()),
                "({i},{k}) {} vs {c}",
                m[(i, k)]
            );
        }
    }
    let all = ham
        .all_couplings(2, Basis::LatticeGas, &SpinMethod::Enumeration, 10_000)
        .unwrap();
    assert_eq!(all.len(), 37 * 36 / 2);
    assert_eq!(all[0].units, vec![0, 1]);
}

#[test]
fn tiny_weight_pair_matrix_keeps_relative_accuracy() {
    let rbm = random_rbm(20, 50, 1e-6, 1.0, 72);
    let ham = EffectiveHamiltonian::new(&rbm);
    let m = ham.pair_matrix();
    for i in 0..20 {
        for k in i + 1..20 {
            // per-hidden-unit reference by the box integral, summed
            let reference: f64 = (0..50)
                .map(|j| box_integral(rbm.b[j], &[rbm.w[(i, j)], rbm.w[(k, j)]]))
                .sum();
            let scale: f64 = (0..50)
                .map(|j| 0.25 * (rbm.w[(i, j)] * rbm.w[(k, j)]).abs())
                .sum();
            assert!((m[(i, k)] - reference).abs() < 1e-12 * scale, "({i},{k})");
        }
    }
}

#[test]
fn spin_methods_agree() {
    // Sparse weights: exact convolution, hybrid and enumeration coincide.
    let mut rbm = random_rbm(16, 8, 0.8, 1.0, 81);
    let mut r = rng(82);
    for i in 0..16 {
        for j in 0..8 {
            if r.random::<f64>() < 0.6 {
                rbm.w[(i, j)] = 0.0;
            }
        }
    }
    let ham = EffectiveHamiltonian::new(&rbm);
    let exact = ham.pair_matrix_spin(&SpinMethod::Enumeration).unwrap();
    let conv = ham
        .pair_matrix_spin(&SpinMethod::Convolution { max_support: 16 })
        .unwrap();
    let hyb = ham
        .pair_matrix_spin(&SpinMethod::Hybrid {
            max_support: 16,
            tol: 1e-10,
        })
        .unwrap();
    for i in 0..16 {
        for k in 0..16 {
            assert!((exact[(i, k)] - conv[(i, k)]).abs() < 1e-12);
            assert!((exact[(i, k)] - hyb[(i, k)]).abs() < 1e-12);
        }
    }
    // The convolution's limit is on the support of each hidden unit without the subset's own
    // units (only hidden units joined to every unit of the subset contribute): at the largest
    // such support the pair is convolved exactly; one unit below it, the first hidden unit
    // with that support is named in the refusal.
    let s = [0usize, 1];
    let joined: Vec<usize> = (0..8)
        .filter(|&j| s.iter().all(|&i| rbm.w[(i, j)] != 0.0))
        .collect();
    let support_of = |j: usize| {
        (0..16)
            .filter(|&i| !s.contains(&i) && rbm.w[(i, j)] != 0.0)
            .count()
    };
    let largest = joined.iter().map(|&j| support_of(j)).max().unwrap_or(0);
    assert!(
        largest >= 1,
        "no hidden unit joins 0 and 1: pick another pair or seed"
    );
    let widest = *joined.iter().find(|&&j| support_of(j) == largest).unwrap();
    let at_limit = ham
        .coupling_spin(
            &s,
            &SpinMethod::Convolution {
                max_support: largest,
            },
        )
        .unwrap();
    assert!((at_limit - exact[(0, 1)]).abs() < 1e-12);
    match ham.coupling_spin(
        &s,
        &SpinMethod::Convolution {
            max_support: largest - 1,
        },
    ) {
        Err(emf_rbm::Error::Infeasible(m)) => assert!(
            m.contains(&format!("hidden unit {widest} has {largest} other units")),
            "{m}"
        ),
        other => panic!(
            "support {largest} over the limit {}: {other:?}",
            largest - 1
        ),
    }

    // Dense, many units, small weights: the Gaussian (CLT) approximation is close to exact.
    let rbm = random_rbm(18, 4, 0.25, 0.5, 83);
    let ham = EffectiveHamiltonian::new(&rbm);
    let exact = ham.pair_matrix_spin(&SpinMethod::Enumeration).unwrap();
    let gauss_method = SpinMethod::Gaussian { tol: 1e-11 };
    let gauss = ham.pair_matrix_spin(&gauss_method).unwrap();
    let mut num = 0.0;
    let mut den = 0.0;
    for i in 0..18 {
        for k in i + 1..18 {
            num += (exact[(i, k)] - gauss[(i, k)]).powi(2);
            den += exact[(i, k)].powi(2);
            // The bulk Gaussian kernel equals the single-subset Gaussian quadrature.
            let single = ham.coupling_spin(&[i, k], &gauss_method).unwrap();
            assert!(
                (single - gauss[(i, k)]).abs() < 1e-10 * (1.0 + single.abs()),
                "({i},{k}) bulk {} single {single}",
                gauss[(i, k)]
            );
        }
    }
    assert!(
        (num / den).sqrt() < 0.05,
        "CLT relative error {}",
        (num / den).sqrt()
    );
    // Fields and constant: exact enumeration vs Gaussian, also close.
    let fe = ham.fields_spin(&SpinMethod::Enumeration).unwrap();
    let fg = ham.fields_spin(&gauss_method).unwrap();
    for (a, b) in fe.iter().zip(&fg) {
        assert!((a - b).abs() < 0.02 * (1.0 + a.abs()));
    }
}

#[test]
fn top_couplings_match_brute_force() {
    let mut rbm = random_rbm(12, 9, 0.9, 1.0, 91);
    let mut r = rng(92);
    for i in 0..12 {
        for j in 0..9 {
            if r.random::<f64>() < 0.4 {
                rbm.w[(i, j)] *= 0.01;
            }
        }
    }
    let ham = EffectiveHamiltonian::new(&rbm);
    for (order, basis) in [
        (3, Basis::LatticeGas),
        (4, Basis::LatticeGas),
        (2, Basis::LatticeGas),
        (3, Basis::Spin),
        (2, Basis::Spin),
        (1, Basis::LatticeGas),
    ] {
        let method = SpinMethod::Enumeration;
        let mut brute = ham.all_couplings(order, basis, &method, 1_000_000).unwrap();
        emf_rbm::hamiltonian::sort_by_magnitude(&mut brute);
        brute.truncate(7);
        let top = ham.top_couplings(order, 7, basis, &method).unwrap();
        assert_eq!(top.len(), 7);
        for (a, b) in top.iter().zip(&brute) {
            assert_eq!(a.units, b.units, "order {order} {basis}");
            assert!((a.value - b.value).abs() < 1e-13 * (1.0 + b.value.abs()));
        }
    }
    // Deterministic across thread counts.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let one = pool.install(|| {
        ham.top_couplings(3, 5, Basis::LatticeGas, &SpinMethod::Enumeration)
            .unwrap()
    });
    let many = ham
        .top_couplings(3, 5, Basis::LatticeGas, &SpinMethod::Enumeration)
        .unwrap();
    assert_eq!(one, many);
}

#[test]
fn triples_within_supports_and_neighbourhoods() {
    let mut rbm = random_rbm(16, 6, 1.0, 1.0, 101);
    for i in 0..16 {
        for j in 0..6 {
            if (i + 3 * j) % 4 != 0 && (i + j) % 3 != 0 {
                rbm.w[(i, j)] *= 1e-3;
            }
        }
    }
    let ham = EffectiveHamiltonian::new(&rbm);
    let supports = ham.supports(0.01);
    let trip = ham
        .triples_in_supports(0.01, Basis::LatticeGas, &SpinMethod::Enumeration)
        .unwrap();
    let mut expected = std::collections::BTreeSet::new();
    for s in &supports {
        for t in Subsets::new(s.len(), 3) {
            expected.insert(vec![s[t[0]], s[t[1]], s[t[2]]]);
        }
    }
    assert_eq!(trip.len(), expected.len());
    for c in &trip {
        assert!(expected.contains(&c.units));
        assert_eq!(c.value, ham.coupling(&c.units).unwrap());
    }
    // 4x4 periodic lattice, radius 1: triples within site + 4 neighbours.
    let hoods = lattice_neighbourhoods(4, 4, 1.0, true);
    assert!(hoods.iter().all(|h| h.len() == 5));
    let t2 = ham
        .triples_in_neighbourhoods(&hoods, Basis::Spin, &SpinMethod::Enumeration)
        .unwrap();
    assert!(t2.windows(2).all(|w| w[0].units < w[1].units));
    let c = &t2[3];
    assert!(
        (c.value
            - ham
                .coupling_spin(&c.units, &SpinMethod::Enumeration)
                .unwrap())
        .abs()
            < 1e-15
    );
}

#[test]
fn energies_and_hidden_side() {
    let rbm = random_rbm(9, 6, 1.0, 1.0, 111);
    let ham = EffectiveHamiltonian::new(&rbm);
    let mut r = rng(112);
    let v = Mat::<f64>::from_fn(13, 9, |_, _| if r.random::<bool>() { 1.0 } else { 0.0 });
    let e = ham.energies(v.as_ref());
    let f = rbm.free_energy(v.as_ref());
    for (a, b) in e.iter().zip(&f) {
        assert!((a - b).abs() < 1e-12);
    }
    let hid = EffectiveHamiltonian::hidden(&rbm);
    assert_eq!(hid.n_units(), 6);
    let h = Mat::<f64>::from_fn(5, 6, |i, j| ((i + j) % 2) as f64);
    let eh = hid.energies(h.as_ref());
    let fh = rbm.free_energy_hidden(h.as_ref());
    for (a, b) in eh.iter().zip(&fh) {
        assert!((a - b).abs() < 1e-12);
    }
    // hidden-side couplings reconstruct the hidden free energy as well
    let t = hid.table().unwrap();
    for m in 0..64 {
        let x = config(m, 6, false);
        assert!((t.evaluate(&x) + hid.energy(&x)).abs() < 1e-10);
    }
}

#[test]
fn listing_every_subset_refuses_huge_requests() {
    let rbm = random_rbm(60, 3, 0.5, 0.5, 121);
    let ham = EffectiveHamiltonian::new(&rbm);
    let err = ham
        .all_couplings(5, Basis::LatticeGas, &SpinMethod::Enumeration, 100_000)
        .unwrap_err();
    assert!(matches!(err, emf_rbm::Error::Infeasible(_)), "{err}");
    assert!(err.to_string().contains("subsets of order 5"));
    let err = ham
        .coupling_spin(&[0, 1], &SpinMethod::Enumeration)
        .unwrap_err();
    assert!(matches!(err, emf_rbm::Error::Infeasible(_)));
    assert!(ham.coupling(&[3, 3]).is_err());
    assert!(ham.coupling(&[60]).is_err());
}

/// Distance shells of the 8 x 8 torus: the pair counts of each shell (every site has 4
/// neighbours at 1, 4 at sqrt 2, 4 at 2, 8 at sqrt 5, 4 at sqrt 8, 4 at 3, 8 at sqrt 10,
/// 2 at 4, ...: 2016 pairs in all), and means, spreads and mean |J| against a direct sum.
#[test]
fn distance_shells_of_the_torus() {
    use emf_rbm::hamiltonian::LatticeShape;
    let torus = LatticeShape::square(64, true).unwrap();
    let v = |i: usize, k: usize| ((i * 7 + k * 7 + (i * k) % 5) % 11) as f64 - 5.0;
    let j = emf_rbm::faer::Mat::<f64>::from_fn(64, 64, |i, k| v(i.min(k), i.max(k)));
    let shells = torus.shells(j.as_ref()).unwrap();
    let expect = [
        (1.0, 128),
        (2f64.sqrt(), 128),
        (2.0, 128),
        (5f64.sqrt(), 256),
        (8f64.sqrt(), 128),
        (3.0, 128),
        (10f64.sqrt(), 256),
        (13f64.sqrt(), 256),
        (4.0, 64),
    ];
    for (s, &(d, n)) in shells.iter().zip(&expect) {
        assert!(
            (s.distance - d).abs() < 1e-12 && s.count == n,
            "{s:?} against {d} x {n}"
        );
    }
    assert_eq!(shells.iter().map(|s| s.count).sum::<usize>(), 64 * 63 / 2);
    for s in &shells {
        let vals: Vec<f64> = (0..64)
            .flat_map(|i| (i + 1..64).map(move |k| (i, k)))
            .filter(|&(i, k)| (torus.distance(i, k) - s.distance).abs() < 1e-9)
            .map(|(i, k)| v(i, k))
            .collect();
        let n = vals.len() as f64;
        let mean = vals.iter().sum::<f64>() / n;
        let sd = (vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let mean_abs = vals.iter().map(|x| x.abs()).sum::<f64>() / n;
        assert_eq!(vals.len(), s.count);
        assert!((s.mean - mean).abs() < 1e-12 && (s.sd - sd).abs() < 1e-12);
        assert!((s.mean_abs - mean_abs).abs() < 1e-12);
    }
    assert!(torus
        .shells(emf_rbm::faer::Mat::<f64>::zeros(63, 63).as_ref())
        .is_err());
}
