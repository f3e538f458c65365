//! The exact referee against brute force over all (v, h), closed forms, and both enumeration
//! sides; free energies and conditionals against brute-force sums over h.

mod common;
use common::smooth_bias_rbm;

use approx::assert_relative_eq;
use emf_rbm::estimate::exact::{self, Enumerate};
use emf_rbm::faer::Mat;
use emf_rbm::Rbm;

fn bits(x: usize, n: usize) -> Vec<f64> {
    (0..n).map(|i| ((x >> i) & 1) as f64).collect()
}

fn energy(rbm: &Rbm<f64>, v: &[f64], h: &[f64]) -> f64 {
    let mut e = 0.0;
    for (i, &vi) in v.iter().enumerate() {
        e -= rbm.a[i] * vi;
        for (j, &hj) in h.iter().enumerate() {
            e -= vi * rbm.w[(i, j)] * hj;
        }
    }
    for (bj, &hj) in rbm.b.iter().zip(h) {
        e -= bj * hj;
    }
    e
}

fn brute_ln_z(rbm: &Rbm<f64>) -> f64 {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let mut terms = Vec::new();
    for x in 0..1usize << nv {
        for y in 0..1usize << nh {
            terms.push(-energy(rbm, &bits(x, nv), &bits(y, nh)));
        }
    }
    emf_rbm::linalg::log_sum_exp(&terms)
}

#[test]
fn ln_z_matches_brute_force_on_tiny_models() {
    for (nv, nh, seed) in [(3, 2, 1), (5, 4, 2), (6, 7, 3), (4, 9, 4), (8, 3, 5)] {
        let rbm = smooth_bias_rbm(nv, nh, 1.5, seed);
        let want = brute_ln_z(&rbm);
        for side in [Enumerate::Smaller, Enumerate::Visible, Enumerate::Hidden] {
            let got = exact::log_partition_by(&rbm, side).unwrap();
            assert_relative_eq!(got, want, max_relative = 1e-12);
        }
    }
}

#[test]
fn ln_z_closed_forms() {
    let sp = emf_rbm::linalg::softplus;
    // W = 0.
    let mut rbm = Rbm::<f64>::zeros(23, 21).unwrap();
    for (k, a) in rbm.a.iter_mut().enumerate() {
        *a = (k as f64 - 11.0) * 0.3;
    }
    for (k, b) in rbm.b.iter_mut().enumerate() {
        *b = (k as f64 - 5.0) * 0.2;
    }
    let want: f64 =
        rbm.a.iter().map(|&x| sp(x)).sum::<f64>() + rbm.b.iter().map(|&x| sp(x)).sum::<f64>();
    assert_relative_eq!(
        exact::log_partition(&rbm).unwrap(),
        want,
        max_relative = 1e-12
    );
    // One hidden unit: Z = prod(1+e^a) + e^b prod(1+e^(a+W)).
    let rbm = smooth_bias_rbm(40, 1, 0.8, 9);
    let l0: f64 = rbm.a.iter().map(|&a| sp(a)).sum();
    let l1: f64 = rbm.b[0] + (0..40).map(|i| sp(rbm.a[i] + rbm.w[(i, 0)])).sum::<f64>();
    let want = emf_rbm::linalg::log_sum_exp(&[l0, l1]);
    assert_relative_eq!(
        exact::log_partition(&rbm).unwrap(),
        want,
        max_relative = 1e-13
    );
}

#[test]
fn enumerating_either_side_agrees_on_larger_models() {
    let rbm = smooth_bias_rbm(14, 12, 0.7, 11);
    let v = exact::log_partition_by(&rbm, Enumerate::Visible).unwrap();
    let h = exact::log_partition_by(&rbm, Enumerate::Hidden).unwrap();
    assert_relative_eq!(v, h, max_relative = 1e-12);
    // Transposing the machine leaves Z unchanged.
    let t = exact::log_partition(&rbm.transpose()).unwrap();
    assert_relative_eq!(t, h, max_relative = 1e-12);
}

#[test]
fn ln_z_refuses_infeasible_sizes() {
    let rbm = Rbm::<f64>::zeros(40, 40).unwrap();
    let err = exact::log_partition(&rbm).unwrap_err();
    assert!(err.to_string().contains("2^40"), "{err}");
}

#[test]
fn free_energies_and_conditionals_match_brute_force() {
    let rbm = smooth_bias_rbm(5, 4, 1.2, 21);
    let (nv, nh) = (5, 4);
    let vs = Mat::from_fn(1 << nv, nv, |r, i| ((r >> i) & 1) as f64);
    let hs = Mat::from_fn(1 << nh, nh, |r, j| ((r >> j) & 1) as f64);
    let f = rbm.free_energy(vs.as_ref());
    let ph = rbm.hidden_probs(vs.as_ref());
    for x in 0..1usize << nv {
        let v = bits(x, nv);
        let terms: Vec<f64> = (0..1usize << nh)
            .map(|y| -energy(&rbm, &v, &bits(y, nh)))
            .collect();
        assert_relative_eq!(
            f[x],
            -emf_rbm::linalg::log_sum_exp(&terms),
            max_relative = 1e-12
        );
        // P(h_j = 1 | v) = sum over h with h_j = 1 of exp(-E) / sum over all h.
        let z: f64 = terms.iter().map(|t| t.exp()).sum();
        for j in 0..nh {
            let num: f64 = (0..1usize << nh)
                .filter(|y| (y >> j) & 1 == 1)
                .map(|y| terms[y].exp())
                .sum();
            assert_relative_eq!(ph[(x, j)], num / z, max_relative = 1e-12);
        }
    }
    let fh = rbm.free_energy_hidden(hs.as_ref());
    let pv = rbm.visible_probs(hs.as_ref());
    for y in 0..1usize << nh {
        let h = bits(y, nh);
        let terms: Vec<f64> = (0..1usize << nv)
            .map(|x| -energy(&rbm, &bits(x, nv), &h))
            .collect();
        assert_relative_eq!(
            fh[y],
            -emf_rbm::linalg::log_sum_exp(&terms),
            max_relative = 1e-12
        );
        let z: f64 = terms.iter().map(|t| t.exp()).sum();
        for i in 0..nv {
            let num: f64 = (0..1usize << nv)
                .filter(|x| (x >> i) & 1 == 1)
                .map(|x| terms[x].exp())
                .sum();
            assert_relative_eq!(pv[(y, i)], num / z, max_relative = 1e-12);
        }
    }
    // energy() agrees with the definition.
    let e = rbm.energy(vs.as_ref().subrows(3, 1), hs.as_ref().subrows(5, 1));
    assert_relative_eq!(
        e[0],
        energy(&rbm, &bits(3, nv), &bits(5, nh)),
        max_relative = 1e-13
    );
    // Probabilities of the visible marginal sum to 1.
    let ln_z = exact::log_partition(&rbm).unwrap();
    let total: f64 = f.iter().map(|fv| (-fv - ln_z).exp()).sum();
    assert_relative_eq!(total, 1.0, max_relative = 1e-12);
}

#[test]
fn f32_models_agree_with_f64() {
    let rbm = smooth_bias_rbm(10, 6, 0.5, 5);
    let r32: Rbm<f32> = rbm.cast();
    let v = Mat::from_fn(7, 10, |r, i| ((r * 3 + i) % 2) as f64);
    let v32 = Mat::from_fn(7, 10, |r, i| v[(r, i)] as f32);
    let f = rbm.free_energy(v.as_ref());
    let f32_ = r32.free_energy(v32.as_ref());
    for (a, b) in f.iter().zip(&f32_) {
        assert!((a - b).abs() < 1e-4 * a.abs().max(1.0));
    }
    let z = exact::log_partition(&rbm).unwrap();
    let z32 = exact::log_partition(&r32).unwrap();
    assert!((z - z32).abs() < 1e-4 * z.abs());
}
