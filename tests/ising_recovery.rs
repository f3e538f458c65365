//! The Ising-recovery checks of notebook 04 on RBMs whose visible Hamiltonian is known in
//! closed form, the sample check against the finite torus, the lattice helpers, and the
//! Migdal-Kadanoff flow.

use emf_rbm::faer::Mat;
use emf_rbm::hamiltonian::LatticeShape;
use emf_rbm::ising::check::SampleCheck;
use emf_rbm::ising::recovery::{HigherOrderOptions, HigherOrderRecovery, PairRecovery};
use emf_rbm::ising::{chi_squared, exact_energy_per_site, exact_finite, sample_ising, IsingConfig};
use emf_rbm::stack::decimation::{
    migdal_kadanoff_coupling, migdal_kadanoff_fixed_point, migdal_kadanoff_flow,
};
use emf_rbm::Rbm;

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

const L: usize = 4;

/// One hidden unit per group of sites (weight `w` to each, bias `b`), visible biases `a`.
fn group_rbm(groups: &[Vec<usize>], w: f64, b: f64, a: f64) -> Rbm<f64> {
    let mut weights = Mat::<f64>::zeros(L * L, groups.len());
    for (j, g) in groups.iter().enumerate() {
        for &i in g {
            weights[(i, j)] = w;
        }
    }
    Rbm::from_parts(weights, vec![a; L * L], vec![b; groups.len()]).unwrap()
}

/// The 32 bonds of the 4 x 4 torus.
fn bonds() -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for r in 0..L {
        for c in 0..L {
            out.push(vec![r * L + c, r * L + (c + 1) % L]);
            out.push(vec![r * L + c, ((r + 1) % L) * L + c]);
        }
    }
    out
}

/// A hidden unit per bond makes a purely pairwise Hamiltonian with `K = f(2) - 2 f(1) + f(0)`
/// on the bonds (`f(n) = softplus(b + n w)`) and `J = K / 4` in the spin basis; nothing on
/// any other pair, no 3- or 4-body term, and the field `J_i = a / 2 + f(2) - f(0)` (four bonds
/// of `(f(2) - f(0)) / 4` each).
#[test]
fn a_bond_rbm_is_recovered_coupling_by_coupling() {
    let (w, b, a) = (0.8, -0.5, -0.3);
    let rbm = group_rbm(&bonds(), w, b, a);
    let f = |n: f64| softplus(b + n * w);
    let k = f(2.0) - 2.0 * f(1.0) + f(0.0);
    let rec = PairRecovery::new(&rbm, L, 2.5).unwrap();
    assert_eq!((rec.n_hidden, rec.j_nn().count), (32, 32));
    assert!(
        (rec.j_nn().mean - k / 4.0).abs() < 1e-12,
        "{}",
        rec.j_nn().mean
    );
    assert!(rec.j_nn().sd < 1e-12);
    assert!((rec.k_nn - k).abs() < 1e-12);
    assert!(rec.shells[1..].iter().all(|s| s.mean_abs < 1e-12));
    assert!(rec.far_mean_abs() < 1e-12);
    // H_eff(v) = -a.v - sum_j softplus(b + w n_j(v)): all up minus all down.
    let up_down = -((L * L) as f64) * a - 32.0 * (f(2.0) - f(0.0));
    assert!(
        (rec.up_down - up_down).abs() < 1e-9,
        "{} vs {up_down}",
        rec.up_down
    );
    let table = PairRecovery::table(&[rec]);
    assert!(table.contains("J_nn/beta") && table.lines().count() == 2);

    let higher = HigherOrderRecovery::new(&rbm, L, 2.5, &HigherOrderOptions::default()).unwrap();
    for (what, x) in [
        ("j3_local", higher.j3_local),
        ("j3_far", higher.j3_far),
        ("j4_plaquette_abs", higher.j4_plaquette_abs),
        ("j4_far", higher.j4_far),
        ("k3_local", higher.k3_local),
        ("k4_plaquette", higher.k4_plaquette),
    ] {
        assert!(x.abs() < 1e-12, "{what} = {x}");
    }
    // Each site sits on 4 bonds; a bond's spin field per site is (f(2) - f(0)) / 4, the
    // bias a v = a (s + 1) / 2 adds a / 2.
    let field = a / 2.0 + 4.0 * (f(2.0) - f(0.0)) / 4.0;
    assert!(
        (higher.field_mean - field).abs() < 1e-12,
        "{} vs {field}",
        higher.field_mean
    );
    // 16 sites x C(5, 3) triples, overlaps counted once; 16 plaquettes.
    assert_eq!(higher.counts.1, 16);
    assert!(higher.counts.0 > 16 && higher.counts.0 <= 160);
}

/// A hidden unit per plaquette makes plaquette 4-body terms and nothing on far quadruples:
/// the two sets are told apart.
#[test]
fn plaquette_units_show_on_plaquettes_only() {
    let torus = LatticeShape::square(L * L, true).unwrap();
    let rbm = group_rbm(&torus.plaquettes(), 1.5, -2.0, 0.0);
    let h = HigherOrderRecovery::new(&rbm, L, 2.5, &HigherOrderOptions::default()).unwrap();
    // K_ijkl of softplus(b + w n): the 4th finite difference of f(n) = softplus(b + n w).
    let f = |n: f64| softplus(-2.0 + 1.5 * n);
    let k4 = f(4.0) - 4.0 * f(3.0) + 6.0 * f(2.0) - 4.0 * f(1.0) + f(0.0);
    assert!(
        (h.k4_plaquette - k4).abs() < 1e-12,
        "{} vs {k4}",
        h.k4_plaquette
    );
    assert!(h.j4_plaquette_abs > 1e-3, "{}", h.j4_plaquette_abs);
    assert!(h.j4_far < 1e-12, "{}", h.j4_far);
}

#[test]
fn recovery_rejects_a_model_of_another_size() {
    let rbm = Rbm::<f64>::zeros(15, 3).unwrap();
    let err = PairRecovery::new(&rbm, L, 2.0).unwrap_err().to_string();
    assert!(
        err.contains("15 visible units") && err.contains("4x4"),
        "{err}"
    );
    let opts = HigherOrderOptions::default();
    assert!(HigherOrderRecovery::new(&rbm, L, 2.0, &opts).is_err());
}

#[test]
fn plaquettes_and_far_subsets() {
    let torus = LatticeShape::square(64, true).unwrap();
    let p = torus.plaquettes();
    assert_eq!(p.len(), 64);
    // every plaquette: 4 distinct sites, 4 bonds and 2 diagonals
    for q in &p {
        let mut d: Vec<f64> = (0..4)
            .flat_map(|a| (a + 1..4).map(move |b| (a, b)))
            .map(|(a, b)| torus.distance(q[a], q[b]))
            .collect();
        d.sort_by(f64::total_cmp);
        assert_eq!(d[..4], [1.0; 4]);
        assert!((d[4] - 2f64.sqrt()).abs() < 1e-12 && (d[5] - 2f64.sqrt()).abs() < 1e-12);
    }
    let far = torus.far_subsets(4, 200, 1.5, 9).unwrap();
    assert_eq!(far, torus.far_subsets(4, 200, 1.5, 9).unwrap());
    assert_ne!(far, torus.far_subsets(4, 200, 1.5, 10).unwrap());
    for s in &far {
        for a in 0..4 {
            for b in a + 1..4 {
                assert!(torus.distance(s[a], s[b]) > 1.5, "{s:?}");
            }
        }
    }
    // Uniform among the qualifying sets: by symmetry of the torus every site appears equally
    // often (chi-squared of the 64 site counts against 1/64 each).
    let mut hits = [0u64; 64];
    for s in torus.far_subsets(3, 6400, 1.5, 1).unwrap() {
        for u in s {
            hits[u] += 1;
        }
    }
    let test = chi_squared(&hits, &[1.0 / 64.0; 64]);
    assert!(test.z < 4.0, "site counts not uniform: {test:?}");
    // Impossible requests are errors, not endless loops.
    let tiny = LatticeShape::square(4, true).unwrap();
    let err = tiny.far_subsets(3, 1, 1.5, 1).unwrap_err().to_string();
    assert!(err.contains("farther apart than 1.5"), "{err}");
}

/// At `T = 2.27` the 4 x 4 torus and the infinite lattice differ by far more than the
/// samples' error bars: the check must compare with the torus.
#[test]
fn samples_are_checked_against_their_torus() {
    let t = 2.27;
    let s = sample_ising(&IsingConfig {
        seed: 3,
        ..IsingConfig::new(L, t, 4000)
    })
    .unwrap();
    let c = SampleCheck::new(&s, L, t).unwrap();
    let exact = exact_finite(L, t).unwrap();
    assert_eq!(c.exact.energy_per_site, exact.energy_per_site);
    assert!(c.max_abs_z() < 4.0, "z = {}", c.max_abs_z());
    let z_infinite = c.energy.z_score(exact_energy_per_site(t));
    assert!(
        z_infinite.abs() > 10.0,
        "the torus is not the infinite lattice: {z_infinite}"
    );
    assert!(c.detail().contains("energy per site"));
    assert_eq!(SampleCheck::table(&[c.clone(), c]).lines().count(), 3);
    assert!(SampleCheck::new(&s, 5, t).is_err());
}

#[test]
fn migdal_kadanoff_flow_leaves_its_fixed_point() {
    // (1/2) ln cosh 1 = 0.216890...
    assert!((migdal_kadanoff_coupling(0.25) - 0.5 * 1f64.cosh().ln()).abs() < 1e-15);
    let k = migdal_kadanoff_fixed_point();
    assert!((k - 0.304_689).abs() < 1e-5, "{k}");
    let below = migdal_kadanoff_flow(0.99 * k, 30);
    let above = migdal_kadanoff_flow(1.01 * k, 30);
    assert!(below.windows(2).all(|w| w[1] < w[0] || w[0] == 0.0) && below[30] < 1e-6);
    assert!(above.windows(2).all(|w| w[1] > w[0]) && above[30] > 100.0);
    // large couplings: linear growth, no overflow (K' = 2K - ln 2 / 2 asymptotically)
    let big = migdal_kadanoff_coupling(500.0);
    assert!(
        (big - (1000.0 - 0.5 * std::f64::consts::LN_2)).abs() < 1e-9,
        "{big}"
    );
}
