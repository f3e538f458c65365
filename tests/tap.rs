//! Tests of the TAP/EMF free energies, solver, gradients and estimates.
//!
//! Every numeric claim is checked against an independent reference: closed forms (W = 0),
//! finite differences of G_k, and brute-force enumeration of all 2^(nv+nh) joint states (written
//! here, independent of `estimate::exact`).

use emf_rbm::estimate::tap;
use emf_rbm::faer::Mat;
use emf_rbm::rng::{self, Rng};
use emf_rbm::tap::{
    gibbs_free_energy, SolverOptions, TapOrder, TapSolver, UpdateOrder, UpdateRule,
};
use emf_rbm::train::tap::{TapConfig, TapPhase};
use emf_rbm::train::{Gradient, Method, NegativePhase, PositivePhase};
use emf_rbm::Rbm;
use rand::Rng as _;
use rand_distr::{Distribution, Normal};

// ---------------------------------------------------------------------------------------------
// helpers

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// A model with `W ~ N(0, sigma^2)` and biases `~ N(0, bias_sd^2)`.
fn random_model(nv: usize, nh: usize, sigma: f64, bias_sd: f64, r: &mut Rng) -> Rbm<f64> {
    let mut rbm = Rbm::<f64>::random(nv, nh, sigma, r).unwrap();
    let n = Normal::new(0.0, bias_sd).unwrap();
    rbm.a.iter_mut().for_each(|x| *x = n.sample(r));
    rbm.b.iter_mut().for_each(|x| *x = n.sample(r));
    rbm
}

fn binary_rows(p: usize, n: usize, r: &mut Rng) -> Mat<f64> {
    Mat::from_fn(p, n, |_, _| if r.random::<f64>() < 0.5 { 1.0 } else { 0.0 })
}

/// Tight solver settings for checks at a fixed point.
fn tight() -> SolverOptions {
    SolverOptions {
        max_sweeps: 5000,
        tolerance: 1e-14,
        damping: 0.0,
        update_order: UpdateOrder::HiddenFirst,
        rule: UpdateRule::Exact,
    }
}

/// Solves from `starts` and returns the solver (holding the particles).
fn solved(rbm: &Rbm<f64>, order: TapOrder, starts: &Mat<f64>, opts: &SolverOptions) -> TapSolver {
    let mut s = TapSolver::new(order, rbm.n_visible(), rbm.n_hidden());
    s.refresh(rbm).unwrap();
    s.init_from_visible(rbm, starts.as_ref()).unwrap();
    let rep = s.solve(rbm, opts).unwrap();
    assert!(rep.converged, "{order}: not converged: {rep:?}");
    s
}

/// Exact moments by brute-force enumeration of all 2^(nv+nh) joint states.
struct Exact {
    ln_z: f64,
    /// `<v_i h_j>` (nv x nh).
    vh: Mat<f64>,
}

fn enumerate(rbm: &Rbm<f64>) -> Exact {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    assert!(nv + nh <= 20);
    let n_states = 1usize << (nv + nh);
    let neg_energy = |s: usize| {
        let v = |i: usize| (s >> i & 1) as f64;
        let h = |j: usize| (s >> (nv + j) & 1) as f64;
        let mut e = 0.0;
        for i in 0..nv {
            e += rbm.a[i] * v(i);
        }
        for j in 0..nh {
            let mut f = rbm.b[j];
            for i in 0..nv {
                f += rbm.w[(i, j)] * v(i);
            }
            e += f * h(j);
        }
        e
    };
    let e: Vec<f64> = (0..n_states).map(neg_energy).collect();
    let max = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = e.iter().map(|x| (x - max).exp()).collect();
    let z: f64 = weights.iter().sum();
    let mut vh = Mat::<f64>::zeros(nv, nh);
    for (s, &wgt) in weights.iter().enumerate() {
        for j in 0..nh {
            if s >> (nv + j) & 1 == 1 {
                for i in 0..nv {
                    if s >> i & 1 == 1 {
                        vh[(i, j)] += wgt;
                    }
                }
            }
        }
    }
    for j in 0..nh {
        for i in 0..nv {
            vh[(i, j)] /= z;
        }
    }
    Exact {
        ln_z: max + z.ln(),
        vh,
    }
}

/// `d ln Z / d theta` as the TAP negative phase estimates it (the negated subtracted gradient).
fn phase_moments(rbm: &Rbm<f64>, cfg: TapConfig, batch: &Mat<f64>) -> Gradient<f64> {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let mut phase = TapPhase::<f64>::new(cfg, nv, nh);
    let mut g = Gradient::zeros(nv, nh);
    let rep = phase
        .subtract_model_statistics(rbm, batch.as_ref(), &mut g, &mut rng::rng(0))
        .unwrap();
    assert!(
        rep.residual.unwrap() <= cfg.tolerance.max(1e-300),
        "{rep:?}"
    );
    for j in 0..nh {
        for i in 0..nv {
            g.w[(i, j)] = -g.w[(i, j)];
        }
    }
    g.a.iter_mut().for_each(|x| *x = -*x);
    g.b.iter_mut().for_each(|x| *x = -*x);
    g
}

/// Least-squares slope of `ln y` against `ln x`.
fn log_log_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

// ---------------------------------------------------------------------------------------------
// A plain scalar reference of the stationarity iteration (loops, no GEMM), with a switch for
// the m*nu form of the third-order field used by the paper's public code.

fn reference_fixed_point(
    rbm: &Rbm<f64>,
    order: usize,
    v0: &[f64],
    m_nu_form: bool,
) -> (Vec<f64>, Vec<f64>) {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let w = |i: usize, j: usize| rbm.w[(i, j)];
    let nu = |m: f64| m - m * m;
    let third = |m: f64| {
        if m_nu_form {
            m * nu(m)
        } else {
            (0.5 - m) * nu(m)
        }
    };
    let mut mv = v0.to_vec();
    let mut mh: Vec<f64> = (0..nh)
        .map(|j| sigmoid(rbm.b[j] + (0..nv).map(|i| w(i, j) * mv[i]).sum::<f64>()))
        .collect();
    for _ in 0..10_000 {
        let mut delta: f64 = 0.0;
        for j in 0..nh {
            let mut x = rbm.b[j];
            for i in 0..nv {
                let wij = w(i, j);
                x += wij * mv[i];
                if order >= 2 {
                    x += (0.5 - mh[j]) * wij * wij * nu(mv[i]);
                }
                if order >= 3 {
                    x += (1.0 / 3.0 - 2.0 * nu(mh[j])) * wij.powi(3) * third(mv[i]);
                }
            }
            let new = sigmoid(x);
            delta = delta.max((new - mh[j]).abs());
            mh[j] = new;
        }
        for i in 0..nv {
            let mut x = rbm.a[i];
            for j in 0..nh {
                let wij = w(i, j);
                x += wij * mh[j];
                if order >= 2 {
                    x += (0.5 - mv[i]) * wij * wij * nu(mh[j]);
                }
                if order >= 3 {
                    x += (1.0 / 3.0 - 2.0 * nu(mv[i])) * wij.powi(3) * third(mh[j]);
                }
            }
            let new = sigmoid(x);
            delta = delta.max((new - mv[i]).abs());
            mv[i] = new;
        }
        if delta < 1e-15 {
            break;
        }
    }
    (mv, mh)
}

/// Five-point finite-difference gradient of `G_k` with respect to every magnetization of one
/// particle, with step `rel * min(m, 1 - m)` (the entropy's derivatives grow like `1/m^n` near
/// the boundary; the truncation error is then ~ `rel^4`, the rounding error ~ `1e-16 |G| / h`).
fn grad_g_fd(rbm: &Rbm<f64>, order: TapOrder, mv: &[f64], mh: &[f64], rel: f64) -> Vec<f64> {
    let (nv, nh) = (mv.len(), mh.len());
    let g = |x: &[f64]| {
        let a = Mat::from_fn(1, nv, |_, i| x[i]);
        let b = Mat::from_fn(1, nh, |_, j| x[nv + j]);
        gibbs_free_energy(rbm, order, a.as_ref(), b.as_ref()).unwrap()[0]
    };
    let m: Vec<f64> = mv.iter().chain(mh).copied().collect();
    (0..nv + nh)
        .map(|u| {
            let h = rel * m[u].min(1.0 - m[u]);
            let at = |t: f64| {
                let mut x = m.clone();
                x[u] += t * h;
                g(&x)
            };
            (8.0 * (at(1.0) - at(-1.0)) - (at(2.0) - at(-2.0))) / (12.0 * h)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// W = 0

#[test]
fn zero_couplings_give_exact_ln_z_and_magnetizations_at_every_order() {
    let mut r = rng::rng(1);
    let mut rbm = random_model(7, 5, 0.0, 1.5, &mut r);
    rbm.w.fill(0.0);
    let exact: f64 = rbm.a.iter().chain(&rbm.b).map(|&x| softplus(x)).sum();
    let starts = binary_rows(4, 7, &mut r);
    for order in TapOrder::ALL {
        let mut s = solved(&rbm, order, &starts, &SolverOptions::converged());
        for p in 0..4 {
            for i in 0..7 {
                assert!((s.visible()[(p, i)] - sigmoid(rbm.a[i])).abs() < 1e-15);
            }
            for j in 0..5 {
                assert!((s.hidden()[(p, j)] - sigmoid(rbm.b[j])).abs() < 1e-15);
            }
        }
        for g in s.free_energy(&rbm).unwrap() {
            assert!((-g - exact).abs() < 1e-12, "{order}: {} vs {exact}", -g);
        }
        let est =
            tap::log_partition(&rbm, order, starts.as_ref(), &SolverOptions::converged()).unwrap();
        assert_eq!(est.n_converged, 4);
        assert!((est.ln_z - exact).abs() < 1e-12);
        // The EMF log-likelihood is then the exact one.
        let l =
            tap::emf_log_likelihood_with(&rbm, order, starts.as_ref(), &SolverOptions::converged())
                .unwrap();
        let f = rbm.free_energy(starts.as_ref());
        for (li, fi) in l.iter().zip(&f) {
            assert!((li - (-fi - exact)).abs() < 1e-12);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// stationarity

#[test]
fn solver_matches_scalar_reference_and_fixed_points_are_stationary() {
    let mut r = rng::rng(2);
    let mut overall: f64 = 0.0;
    for trial in 0..3 {
        let rbm = random_model(7, 5, 0.6, 1.0, &mut r);
        let starts = binary_rows(3, 7, &mut r);
        for order in TapOrder::ALL {
            for update_order in [UpdateOrder::HiddenFirst, UpdateOrder::VisibleFirst] {
                let opts = SolverOptions {
                    update_order,
                    ..tight()
                };
                let s = solved(&rbm, order, &starts, &opts);
                for p in 0..3 {
                    let mv: Vec<f64> = (0..7).map(|i| s.visible()[(p, i)]).collect();
                    let mh: Vec<f64> = (0..5).map(|j| s.hidden()[(p, j)]).collect();
                    // Same point as the plain-loop reference iteration.
                    let v0: Vec<f64> = (0..7).map(|i| starts[(p, i)]).collect();
                    let (rv, rh) = reference_fixed_point(&rbm, order.k(), &v0, false);
                    for (x, y) in mv.iter().chain(&mh).zip(rv.iter().chain(&rh)) {
                        assert!((x - y).abs() < 1e-12, "trial {trial} {order}: {x} vs {y}");
                    }
                    let grad = grad_g_fd(&rbm, order, &mv, &mh, 1e-2);
                    let worst = grad.iter().fold(0.0f64, |a, x| a.max(x.abs()));
                    overall = overall.max(worst);
                    assert!(
                        worst < 1e-8,
                        "trial {trial} {order} {update_order:?}: |dG/dm| = {worst}"
                    );
                }
            }
        }
    }
    eprintln!("largest finite-difference |dG/dm| at the fixed points: {overall:.3e}");
}

#[test]
fn m_nu_form_of_the_third_order_field_is_not_stationary() {
    // The negative control for the stationarity test: the paper's code's m*nu form gives a
    // point where dG3/dm is far from zero, so the finite-difference test can fail.
    let mut r = rng::rng(3);
    let rbm = random_model(7, 5, 0.6, 1.0, &mut r);
    let v0: Vec<f64> = (0..7).map(|i| (i % 2) as f64).collect();
    let (mv, mh) = reference_fixed_point(&rbm, 3, &v0, true);
    let grad = grad_g_fd(&rbm, TapOrder::Tap3, &mv, &mh, 1e-2);
    let worst = grad.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    eprintln!("m*nu form: max |dG3/dm| = {worst:.3e}");
    assert!(worst > 1e-4, "m*nu point unexpectedly stationary: {worst}");
}

// ---------------------------------------------------------------------------------------------
// gradient

#[test]
fn negative_phase_equals_finite_differences_of_minus_g_at_the_fixed_point() {
    let mut r = rng::rng(4);
    let (nv, nh) = (6, 4);
    let base = random_model(nv, nh, 0.5, 1.0, &mut r);
    let batch = binary_rows(3, nv, &mut r);
    let h = 1e-5;
    for order in TapOrder::ALL {
        let cfg = TapConfig {
            order,
            sweeps: 5000,
            tolerance: 1e-14,
            damping: 0.0,
            persistent: false,
            update_order: UpdateOrder::HiddenFirst,
            rule: UpdateRule::Exact,
        };
        let analytic = phase_moments(&base, cfg, &batch);
        // f(theta) = mean over particles of -G_k(m*(theta)), m* re-solved from the same rows.
        let f = |rbm: &Rbm<f64>| {
            let mut s = solved(rbm, order, &batch, &tight());
            let g = s.free_energy(rbm).unwrap();
            -g.iter().sum::<f64>() / g.len() as f64
        };
        let worst = std::cell::Cell::new(0.0f64);
        let check = |name: &str, fd: f64, an: f64| {
            let rel = (fd - an).abs() / an.abs().max(1e-2);
            worst.set(worst.get().max(rel));
            assert!(
                rel < 1e-6,
                "{order} d/d{name}: fd {fd} analytic {an} rel {rel}"
            );
        };
        for j in 0..nh {
            for i in 0..nv {
                let (mut p, mut m) = (base.clone(), base.clone());
                p.w[(i, j)] += h;
                m.w[(i, j)] -= h;
                check(
                    &format!("W{i}{j}"),
                    (f(&p) - f(&m)) / (2.0 * h),
                    analytic.w[(i, j)],
                );
            }
        }
        for i in 0..nv {
            let (mut p, mut m) = (base.clone(), base.clone());
            p.a[i] += h;
            m.a[i] -= h;
            check(&format!("a{i}"), (f(&p) - f(&m)) / (2.0 * h), analytic.a[i]);
        }
        for j in 0..nh {
            let (mut p, mut m) = (base.clone(), base.clone());
            p.b[j] += h;
            m.b[j] -= h;
            check(&format!("b{j}"), (f(&p) - f(&m)) / (2.0 * h), analytic.b[j]);
        }
        eprintln!(
            "{order}: largest relative gradient error {:.3e}",
            worst.get()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// order of accuracy

#[test]
fn error_falls_with_the_expected_order_in_the_coupling_strength() {
    // Model: W = eps W0 with W0_ij = |N(0, 0.5^2)| and all biases <= -0.5, so every m < 1/2
    // and every kappa = (1/2 - m) nu > 0. Then the leading error terms (-1/2 sum nu nu W^2 for
    // MF, -2/3 sum kappa kappa W^3 for TAP2, the W^4 terms for TAP3) are sums of terms of one
    // sign. With zero-mean random signs the W^3 coefficient of TAP2 nearly cancels and the
    // asymptotic slope only appears below eps = 0.025 (observed: local slopes 3.5 at 0.05).
    let mut r = rng::rng(105);
    let (nv, nh) = (8, 6);
    let mut w0 = random_model(nv, nh, 0.5, 1.0, &mut r);
    for j in 0..nh {
        for i in 0..nv {
            w0.w[(i, j)] = w0.w[(i, j)].abs();
        }
    }
    w0.a.iter_mut().for_each(|x| *x = -x.abs() - 0.5);
    w0.b.iter_mut().for_each(|x| *x = -x.abs() - 0.5);
    let start = binary_rows(1, nv, &mut r);
    let eps = [0.4, 0.2, 0.1, 0.05, 0.025];
    let mut err_z = vec![vec![]; 3];
    let mut err_m = vec![vec![]; 3];
    for &e in &eps {
        let mut rbm = w0.clone();
        for j in 0..nh {
            for i in 0..nv {
                rbm.w[(i, j)] *= e;
            }
        }
        let exact = enumerate(&rbm);
        for (k, order) in TapOrder::ALL.into_iter().enumerate() {
            let mut s = solved(&rbm, order, &start, &tight());
            let ln_z = -s.free_energy(&rbm).unwrap()[0];
            err_z[k].push((exact.ln_z - ln_z).abs());
            let cfg = TapConfig {
                order,
                sweeps: 5000,
                tolerance: 1e-14,
                damping: 0.0,
                persistent: false,
                update_order: UpdateOrder::HiddenFirst,
                rule: UpdateRule::Exact,
            };
            let g = phase_moments(&rbm, cfg, &start);
            // Frobenius norm of the error of <v h^T>.
            let mut sq = 0.0;
            for j in 0..nh {
                for i in 0..nv {
                    sq += (g.w[(i, j)] - exact.vh[(i, j)]).powi(2);
                }
            }
            err_m[k].push(sq.sqrt());
        }
    }
    for k in 0..3 {
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.2e}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        eprintln!("order {}: |ln Z error| {}", k + 1, fmt(&err_z[k]));
        eprintln!("order {}: |<vh> error| {}", k + 1, fmt(&err_m[k]));
    }
    // Least-squares slopes over the three smallest eps (0.1, 0.05, 0.025).
    // Tolerance 0.25: the error is C eps^p (1 + c eps + O(eps^2)), so the fitted slope exceeds
    // p by about c eps / ln 2 averaged over the fit range. Over ten random models of this class
    // (seeds 100-109) the deviations were 0.03-0.24 (largest: TAP3 ln Z, where the eps^5
    // term has the largest relative coefficient), typically below 0.13. A slope off by a whole
    // order (e.g. the 4/3 coefficient of TAP3, which leaves an eps^3 error, or the m*nu form,
    // whose moments are only TAP2-accurate) fails by 0.75 or more.
    for k in 0..3 {
        let sz = log_log_slope(&eps[2..], &err_z[k][2..]);
        let sm = log_log_slope(&eps[2..], &err_m[k][2..]);
        eprintln!(
            "order {}: slope ln Z {sz:.3} (want {}), slope <vh> {sm:.3} (want {})",
            k + 1,
            k + 2,
            k + 1
        );
        assert!(
            (sz - (k + 2) as f64).abs() < 0.25,
            "order {}: ln Z slope {sz}",
            k + 1
        );
        assert!(
            (sm - (k + 1) as f64).abs() < 0.25,
            "order {}: <vh> slope {sm}",
            k + 1
        );
        // Higher orders are more accurate at small coupling.
        if k > 0 {
            assert!(err_z[k][4] < err_z[k - 1][4]);
            assert!(err_m[k][4] < err_m[k - 1][4]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// naive mean-field bound

#[test]
fn naive_mean_field_is_a_lower_bound_for_any_magnetization() {
    let mut r = rng::rng(6);
    for trial in 0..4 {
        let rbm = random_model(7, 5, 1.0, 1.0, &mut r);
        let exact = enumerate(&rbm).ln_z;
        let p = 300;
        let mv = Mat::from_fn(p, 7, |_, _| r.random::<f64>());
        let mh = Mat::from_fn(p, 5, |_, _| r.random::<f64>());
        let g = gibbs_free_energy(&rbm, TapOrder::Mf, mv.as_ref(), mh.as_ref()).unwrap();
        for gi in &g {
            assert!(
                -gi <= exact + 1e-12,
                "trial {trial}: -G1 = {} > ln Z = {exact}",
                -gi
            );
        }
        // The bound is tightest at the best MF fixed point, and still a bound there.
        let starts = binary_rows(20, 7, &mut r);
        let est = tap::log_partition(&rbm, TapOrder::Mf, starts.as_ref(), &tight()).unwrap();
        assert!(est.n_converged > 0);
        assert!(est.ln_z <= exact + 1e-12);
        assert!(g.iter().all(|gi| -gi <= est.ln_z + 1e-12));
    }
}

// ---------------------------------------------------------------------------------------------
// convergence

/// A 200 x 100 model with `||W||_2 = 5` (power iteration) and small random biases.
fn strong_model(r: &mut Rng) -> Rbm<f64> {
    let (nv, nh) = (200, 100);
    let mut rbm = random_model(nv, nh, 1.0, 0.1, r);
    let mut x = vec![1.0; nh];
    let mut norm = 0.0;
    for _ in 0..500 {
        let y: Vec<f64> = (0..nv)
            .map(|i| (0..nh).map(|j| rbm.w[(i, j)] * x[j]).sum())
            .collect();
        let z: Vec<f64> = (0..nh)
            .map(|j| (0..nv).map(|i| rbm.w[(i, j)] * y[i]).sum())
            .collect();
        let n: f64 = z.iter().map(|v| v * v).sum::<f64>().sqrt();
        norm = n.sqrt();
        x = z.iter().map(|v| v / n).collect();
    }
    for j in 0..nh {
        for i in 0..nv {
            rbm.w[(i, j)] *= 5.0 / norm;
        }
    }
    rbm
}

#[test]
fn sequential_updates_converge_where_undamped_parallel_updates_oscillate() {
    let mut r = rng::rng(7);
    let rbm = strong_model(&mut r);
    let starts = binary_rows(10, 200, &mut r);
    for order in [TapOrder::Tap2, TapOrder::Tap3] {
        let mut s = TapSolver::new(order, 200, 100);
        s.refresh(&rbm).unwrap();
        s.init_from_visible(&rbm, starts.as_ref()).unwrap();
        let seq = s.solve(&rbm, &SolverOptions::converged()).unwrap();
        eprintln!("{order}: sequential {seq:?}");
        assert!(seq.converged && seq.residual < 1e-8, "{order}: {seq:?}");

        s.init_from_visible(&rbm, starts.as_ref()).unwrap();
        let par = SolverOptions {
            max_sweeps: 1,
            tolerance: 0.0,
            damping: 0.0,
            update_order: UpdateOrder::Parallel,
            rule: UpdateRule::FixedPoint,
        };
        let residuals: Vec<f64> = (0..300)
            .map(|_| s.solve(&rbm, &par).unwrap().residual)
            .collect();
        eprintln!(
            "{order}: parallel residuals at 10, 100, 200, 300: {:?}",
            [residuals[9], residuals[99], residuals[199], residuals[299]]
        );
        // Oscillates: the residual over the last 100 sweeps stays large and does not fall.
        let late = &residuals[200..];
        let min_late = late.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(
            min_late > 1e-2,
            "{order}: parallel residual fell to {min_late}"
        );
        let early_max = residuals[100..200].iter().copied().fold(0.0, f64::max);
        assert!(
            min_late > 0.1 * early_max,
            "{order}: parallel residual still falling"
        );

        // Damping cures it.
        s.init_from_visible(&rbm, starts.as_ref()).unwrap();
        let damped = SolverOptions {
            max_sweeps: 300,
            tolerance: 1e-8,
            damping: 0.5,
            update_order: UpdateOrder::Parallel,
            rule: UpdateRule::FixedPoint,
        };
        let rep = s.solve(&rbm, &damped).unwrap();
        eprintln!("{order}: damped parallel {rep:?}");
        assert!(rep.converged, "{order}: damped parallel {rep:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// API details

#[test]
fn persistent_particles_carry_over_and_restarted_ones_do_not() {
    let mut r = rng::rng(8);
    let rbm = random_model(6, 4, 0.5, 1.0, &mut r);
    let b1 = binary_rows(5, 6, &mut r);
    let b2 = binary_rows(5, 6, &mut r);
    let run = |persistent: bool| {
        let cfg = TapConfig::paper(TapOrder::Tap2).persistent(persistent);
        let mut phase = TapPhase::<f64>::new(cfg, 6, 4);
        let mut g = Gradient::zeros(6, 4);
        let mut rr = rng::rng(0);
        phase
            .subtract_model_statistics(&rbm, b1.as_ref(), &mut g, &mut rr)
            .unwrap();
        phase
            .subtract_model_statistics(&rbm, b2.as_ref(), &mut g, &mut rr)
            .unwrap();
        phase.solver().visible().to_owned()
    };
    // Restarted: the particles after batch 2 are those of 3 sweeps from batch 2.
    let mut s = TapSolver::new(TapOrder::Tap2, 6, 4);
    s.refresh(&rbm).unwrap();
    s.init_from_visible(&rbm, b2.as_ref()).unwrap();
    s.solve(&rbm, &SolverOptions::paper()).unwrap();
    assert_eq!(run(false), s.visible().to_owned());
    // Persistent: 6 sweeps from batch 1.
    s.init_from_visible(&rbm, b1.as_ref()).unwrap();
    s.solve(&rbm, &SolverOptions::paper()).unwrap();
    s.solve(&rbm, &SolverOptions::paper()).unwrap();
    assert_eq!(run(true), s.visible().to_owned());
}

#[test]
fn f32_solver_agrees_with_f64() {
    let mut r = rng::rng(9);
    let rbm = random_model(30, 20, 0.3, 1.0, &mut r);
    let rbm32 = rbm.cast::<f32>();
    let starts = binary_rows(8, 30, &mut r);
    let starts32 = Mat::<f32>::from_fn(8, 30, |p, i| starts[(p, i)] as f32);
    for order in TapOrder::ALL {
        let mut s64 = TapSolver::<f64>::new(order, 30, 20);
        s64.refresh(&rbm).unwrap();
        s64.init_from_visible(&rbm, starts.as_ref()).unwrap();
        s64.solve(&rbm, &SolverOptions::paper()).unwrap();
        let mut s32 = TapSolver::<f32>::new(order, 30, 20);
        s32.refresh(&rbm32).unwrap();
        s32.init_from_visible(&rbm32, starts32.as_ref()).unwrap();
        s32.solve(&rbm32, &SolverOptions::paper()).unwrap();
        for p in 0..8 {
            for j in 0..20 {
                assert!((s64.hidden()[(p, j)] - s32.hidden()[(p, j)] as f64).abs() < 1e-5);
            }
        }
        let (g64, g32) = (
            s64.free_energy(&rbm).unwrap(),
            s32.free_energy(&rbm32).unwrap(),
        );
        for (a, b) in g64.iter().zip(&g32) {
            assert!(
                (a - b).abs() < 1e-4 * a.abs().max(1.0),
                "{order}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn methods_parse_name_and_serialise() {
    for (s, order, persistent) in [
        ("mf", TapOrder::Mf, false),
        ("tap2", TapOrder::Tap2, false),
        ("tap3", TapOrder::Tap3, false),
        ("pmf", TapOrder::Mf, true),
        ("ptap2", TapOrder::Tap2, true),
        ("PTAP3", TapOrder::Tap3, true),
    ] {
        let m: Method = s.parse().unwrap();
        assert_eq!(
            m,
            Method::Tap(TapConfig::paper(order).persistent(persistent))
        );
        assert_eq!(m.name(), s.to_ascii_lowercase());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Method>(&json).unwrap(), m);
        assert_eq!(m.build::<f64>(4, 3, 10).name(), s.to_ascii_lowercase());
    }
    assert_eq!("cd3".parse::<Method>().unwrap(), Method::Cd { k: 3 });
    assert_eq!(
        "pcd".parse::<Method>().unwrap(),
        Method::Pcd { k: 1, chains: None }
    );
    assert!("tap4".parse::<Method>().is_err());
    assert!("ptap".parse::<Method>().is_err());
    let bad = Method::Tap(TapConfig {
        damping: 1.0,
        ..TapConfig::default()
    });
    assert!(bad.validate().is_err());
    let d = TapConfig::default();
    assert_eq!(
        (d.order, d.sweeps, d.damping, d.persistent),
        (TapOrder::Tap2, 3, 0.5, false)
    );
    let c = TapConfig::converged(TapOrder::Tap3);
    assert_eq!(
        (c.sweeps, c.tolerance, c.rule),
        (5000, 1e-8, UpdateRule::Exact)
    );
}

#[test]
fn parallel_column_blocks_match_the_reference_and_do_not_depend_on_threads() {
    // Large enough (120 x 400 and 120 x 300 magnetizations, 400 x 300 weights) for the
    // column-block parallel passes.
    let mut r = rng::rng(10);
    let (nv, nh, p) = (400, 300, 120);
    let rbm = random_model(nv, nh, 0.05, 1.0, &mut r);
    let starts = binary_rows(p, nv, &mut r);
    let run = |threads: usize, order: TapOrder| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut s = solved(&rbm, order, &starts, &tight());
            let g = s.free_energy(&rbm).unwrap();
            let mut grad = Gradient::zeros(nv, nh);
            s.subtract_gradient(&rbm, &mut grad).unwrap();
            (
                s.visible().to_owned(),
                s.hidden().to_owned(),
                g,
                grad.w,
                grad.a,
                grad.b,
            )
        })
    };
    for order in TapOrder::ALL {
        let one = run(1, order);
        let two = run(2, order);
        assert!(
            one == two,
            "{order}: results differ between 1 and 2 threads"
        );
        for q in [0, p - 1] {
            let v0: Vec<f64> = (0..nv).map(|i| starts[(q, i)]).collect();
            let (rv, rh) = reference_fixed_point(&rbm, order.k(), &v0, false);
            for i in 0..nv {
                assert!((one.0[(q, i)] - rv[i]).abs() < 1e-12);
            }
            for j in 0..nh {
                assert!((one.1[(q, j)] - rh[j]).abs() < 1e-12);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// training

mod training {
    use super::*;
    use emf_rbm::data::Dataset;
    use emf_rbm::estimate::exact;
    use emf_rbm::train::{MonitorConfig, TrainConfig, Trainer};

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

    /// Held-out exact log-likelihood per epoch of a 15-epoch run.
    fn held_out_curve(method: Method) -> Vec<f64> {
        let (train, test) = digits();
        let fitted = Trainer::<f64>::new(config(method, 15))
            .fit(&train, Some(&test))
            .unwrap();
        let check = exact::mean_log_likelihood(&fitted.rbm, test.to_mat::<f64>().as_ref());
        let curve: Vec<f64> = fitted
            .history
            .epochs
            .iter()
            .map(|e| e.log_likelihood_held_out.unwrap())
            .collect();
        assert!((check.unwrap() - curve[curve.len() - 1]).abs() < 1e-9);
        curve
    }

    /// The exact held-out LL of the independent-pixel model training starts from (W = 0).
    fn baseline() -> f64 {
        let (train, test) = digits();
        let mut r = rng::rng(0);
        let start =
            Rbm::<f64>::init_from_means(&train.pixel_means(), 16, 0.0, 1e-3, &mut r).unwrap();
        exact::mean_log_likelihood(&start, test.to_mat::<f64>().as_ref()).unwrap()
    }

    /// Largest fall of the curve below its best value so far, over its second half.
    fn worst_relapse(curve: &[f64]) -> f64 {
        let mut best = f64::NEG_INFINITY;
        let mut worst: f64 = 0.0;
        for (e, &ll) in curve.iter().enumerate() {
            best = best.max(ll);
            if e >= curve.len() / 2 {
                worst = worst.max(best - ll);
            }
        }
        worst
    }

    #[test]
    fn tap_training_gains_as_much_held_out_likelihood_as_cd1() {
        // Measured (seeds 7, 8, 9; 15 epochs; independent pixels at -25.3): CD-1 gains
        // 4.9 / 4.8 / 4.7 nats, MF 5.2 / 5.0 / 4.9, TAP2 4.8 / 4.7 / 4.8, TAP3 4.7 / 4.6 /
        // 4.7; the seed spread of each is about 0.1 nat. Each TAP order must gain at least 90 %
        // of CD-1's gain (0.5 nat below it: five times the spread). This catches a negative
        // phase that does not train; the exactness of the TAP gradient itself is checked by
        // finite differences above (dropping its Onsager term fails that test, not this one:
        // the naive mean-field gradient trains these small models as well as TAP2's).
        let base = baseline();
        let cd_gain = held_out_curve(Method::Cd { k: 1 }).last().unwrap() - base;
        for order in TapOrder::ALL {
            let curve = held_out_curve(Method::Tap(TapConfig::paper(order)));
            let gain = curve.last().unwrap() - base;
            eprintln!("{order}: gain {gain:.3} nats (CD-1 {cd_gain:.3})");
            assert!(
                gain > 0.9 * cd_gain,
                "{order}: gained {gain:.3} nats, CD-1 {cd_gain:.3}"
            );
        }
    }

    #[test]
    fn persistent_tap2_learns_stably_once_its_particles_converge() {
        // With the paper's 3 damped sweeps the persistent particles lag the moving fixed point
        // and the held-out LL relapses by 2-9 nats (measured on seeds 7-9); with particles
        // solved to a stationary point every update it learns like CD-1 (-20.5 nats after 15
        // epochs on all three seeds) and never falls more than 0.8 nat below its best.
        let base = baseline();
        let cd_gain = held_out_curve(Method::Cd { k: 1 }).last().unwrap() - base;
        let converged = held_out_curve(Method::Tap(
            TapConfig::converged(TapOrder::Tap2).persistent(true),
        ));
        let paper = held_out_curve(Method::Tap(
            TapConfig::paper(TapOrder::Tap2).persistent(true),
        ));
        let gain = converged.last().unwrap() - base;
        eprintln!(
            "P-TAP2 converged: gain {gain:.3} (CD-1 {cd_gain:.3}), worst relapse {:.3}; \
             P-TAP2 3 damped sweeps: worst relapse {:.3}",
            worst_relapse(&converged),
            worst_relapse(&paper)
        );
        assert!(gain > 0.9 * cd_gain, "converged P-TAP2 gained {gain:.3}");
        assert!(worst_relapse(&converged) < 1.0, "{converged:?}");
        // The stability criterion can fail: the paper's setting fails it.
        assert!(worst_relapse(&paper) > 1.0, "{paper:?}");
    }

    fn ptap2_in_pool(threads: usize, seed: u64) -> Rbm<f64> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (train, _) = digits();
        // 400 hidden units: 100 x 400 hidden magnetizations take the column-parallel paths.
        let cfg = TrainConfig::builder()
            .n_hidden(400)
            .method("ptap2".parse().unwrap())
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
        pool.install(|| Trainer::<f64>::new(cfg).fit(&train, None).unwrap().rbm)
    }

    #[test]
    fn persistent_tap2_is_bit_reproducible_at_1_and_2_threads() {
        let a = ptap2_in_pool(1, 11);
        let b = ptap2_in_pool(2, 11);
        assert!(a == b, "P-TAP2 weights differ between 1 and 2 threads");
        // A different seed does change them (the comparison can fail).
        let c = ptap2_in_pool(2, 12);
        assert!(a != c);
    }
}

#[test]
fn changing_batch_sizes_give_the_same_result_as_fresh_solvers() {
    // Buffers are reused (with a different padded layout) when the minibatch size changes.
    let mut r = rng::rng(13);
    let rbm = random_model(40, 30, 0.3, 1.0, &mut r);
    let mut phase = TapPhase::<f64>::new(TapConfig::paper(TapOrder::Tap3), 40, 30);
    for rows in [20, 7, 33, 1, 20] {
        let batch = binary_rows(rows, 40, &mut r);
        let mut g = Gradient::zeros(40, 30);
        phase
            .subtract_model_statistics(&rbm, batch.as_ref(), &mut g, &mut rng::rng(0))
            .unwrap();
        let mut fresh = TapPhase::<f64>::new(TapConfig::paper(TapOrder::Tap3), 40, 30);
        let mut g2 = Gradient::zeros(40, 30);
        fresh
            .subtract_model_statistics(&rbm, batch.as_ref(), &mut g2, &mut rng::rng(0))
            .unwrap();
        assert!(
            g.w == g2.w && g.a == g2.a && g.b == g2.b,
            "batch of {rows} rows"
        );
        assert_eq!(phase.solver().visible(), fresh.solver().visible());
    }
}

/// Epoch times on full MNIST (60 000 x 784, 500 hidden, batch 100) for MF, TAP2, TAP3 (paper
/// settings), CD-1 and PCD-1 in f64 and f32, with the time spent inside the negative phase.
/// Ignored by default (about a minute on 2 cores):
/// `cargo test --release --test tap mnist_epoch_times -- --ignored --nocapture`
/// (`EMF_MNIST` overrides the image file path, `EMF_METHODS=tap2,cd1` picks methods).
#[test]
#[ignore]
fn mnist_epoch_times() {
    use emf_rbm::data::Dataset;
    use emf_rbm::train::{MonitorConfig, PhaseReport, TrainConfig, Trainer};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// Times the wrapped negative phase.
    struct Timed<T: emf_rbm::Float> {
        inner: Box<dyn NegativePhase<T>>,
        seconds: Arc<Mutex<f64>>,
    }
    impl<T: emf_rbm::Float> NegativePhase<T> for Timed<T> {
        fn name(&self) -> String {
            self.inner.name()
        }
        fn subtract_model_statistics(
            &mut self,
            rbm: &Rbm<T>,
            batch: emf_rbm::faer::MatRef<'_, T>,
            grad: &mut Gradient<T>,
            rng: &mut Rng,
        ) -> emf_rbm::Result<PhaseReport> {
            let t0 = Instant::now();
            let r = self.inner.subtract_model_statistics(rbm, batch, grad, rng);
            *self.seconds.lock().unwrap() += t0.elapsed().as_secs_f64();
            r
        }
    }

    let path = std::env::var("EMF_MNIST")
        .unwrap_or_else(|_| "/work/shared/data/mnist/train-images-idx3-ubyte.gz".into());
    let data = Dataset::read_idx(std::path::Path::new(&path))
        .unwrap()
        .binarize(0.5);
    fn epoch<T: emf_rbm::Float>(data: &Dataset, method: &str) -> (f64, f64) {
        let method: Method = method.parse().unwrap();
        let cfg = TrainConfig::builder()
            .n_hidden(500)
            .method(method.clone())
            .epochs(1)
            .batch_size(100)
            .learning_rate(0.005)
            .monitor(MonitorConfig {
                every: 0,
                ..MonitorConfig::default()
            })
            .build()
            .unwrap();
        let seconds = Arc::new(Mutex::new(0.0));
        let phase = Timed::<T> {
            inner: method.build::<T>(784, 500, 100),
            seconds: seconds.clone(),
        };
        let fitted = Trainer::<T>::new(cfg)
            .with_negative_phase(Box::new(phase))
            .fit(data, None)
            .unwrap();
        let in_phase = *seconds.lock().unwrap();
        (fitted.history.train_seconds, in_phase)
    }
    let methods = std::env::var("EMF_METHODS").unwrap_or_else(|_| "mf,tap2,tap3,cd1,pcd1".into());
    for method in methods.split(',') {
        let (t64, p64) = epoch::<f64>(&data, method);
        let (t32, p32) = epoch::<f32>(&data, method);
        eprintln!(
            "{method}: epoch {t64:.2} s (f64; {p64:.2} s in the negative phase), \
             {t32:.2} s (f32; {p32:.2} s)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// convergence on trained models

mod trained {
    use super::*;
    use emf_rbm::data::Dataset;
    use emf_rbm::train::{MonitorConfig, TrainConfig, Trainer};

    /// The demo's models: 16 hidden units on the digits (80 % of them), 30 epochs.
    pub fn demo_model(method: &str) -> (Rbm<f64>, Mat<f64>) {
        let (train, _) = Dataset::digits().binarize(0.5).split(0.2, 1).unwrap();
        let cfg = TrainConfig::builder()
            .n_hidden(16)
            .method(method.parse().unwrap())
            .epochs(30)
            .batch_size(20)
            .learning_rate(0.05)
            .momentum(0.5)
            .seed(1)
            .monitor(MonitorConfig {
                every: 0,
                ..MonitorConfig::default()
            })
            .build()
            .unwrap();
        let rbm = Trainer::<f64>::new(cfg).fit(&train, None).unwrap().rbm;
        let starts = train.head(200).to_mat::<f64>();
        (rbm, starts)
    }

    /// Converged particles from 200 data rows with `opts`, at every order.
    fn converged_counts(rbm: &Rbm<f64>, starts: &Mat<f64>, opts: &SolverOptions) -> Vec<usize> {
        TapOrder::ALL
            .iter()
            .map(|&order| {
                let est = tap::log_partition(rbm, order, starts.as_ref(), opts).unwrap();
                eprintln!(
                    "  {order}: {} of {} converged in {} sweeps, max residual {:.2e}, ln Z {:.6}",
                    est.n_converged, est.n_particles, est.sweeps, est.max_residual, est.ln_z
                );
                est.n_converged
            })
            .collect()
    }

    #[test]
    fn converged_preset_converges_on_a_small_mnist_model() {
        // 784 x 20, PCD-1 for 3 epochs on MNIST (binarised at 0.5). The plain undamped map
        // leaves 12 (TAP2) and 7 (TAP3) of 200 particles oscillating on this model (measured).
        // Skipped without the data.
        let dir = std::env::var_os("EMF_RBM_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
            });
        let folder = dir.join("mnist");
        if !folder.is_dir() {
            eprintln!("skipped: no MNIST folder at {}", folder.display());
            return;
        }
        let (train, _) = Dataset::load_split(folder.to_str().unwrap()).unwrap();
        let train = train.binarize(0.5);
        let cfg = TrainConfig::builder()
            .n_hidden(20)
            .method("pcd1".parse().unwrap())
            .epochs(3)
            .batch_size(100)
            .learning_rate(0.01)
            .seed(1)
            .monitor(MonitorConfig {
                every: 0,
                ..MonitorConfig::default()
            })
            .build()
            .unwrap();
        let rbm = Trainer::<f64>::new(cfg).fit(&train, None).unwrap().rbm;
        let starts = train.head(200).to_mat::<f64>();
        eprintln!("MNIST 784 x 20 PCD-1 model, exact per-unit solves:");
        let counts = converged_counts(&rbm, &starts, &SolverOptions::converged());
        assert_eq!(counts, vec![200; 3]);
        eprintln!("undamped fixed-point map, 500 sweeps:");
        let plain = SolverOptions {
            max_sweeps: 500,
            rule: UpdateRule::FixedPoint,
            ..SolverOptions::converged()
        };
        converged_counts(&rbm, &starts, &plain);
    }

    #[test]
    fn converged_preset_converges_on_the_demo_models_where_the_plain_map_does_not() {
        let plain = SolverOptions {
            max_sweeps: 500,
            rule: UpdateRule::FixedPoint,
            ..SolverOptions::converged()
        };
        let mut plain_total = 0;
        for method in ["cd1", "pcd1", "tap2", "tap3"] {
            let (rbm, starts) = demo_model(method);
            eprintln!("{method} model, exact per-unit solves:");
            let exact = converged_counts(&rbm, &starts, &SolverOptions::converged());
            assert_eq!(
                exact,
                vec![200; 3],
                "{method}: not every particle converged"
            );
            eprintln!("{method} model, undamped fixed-point map, 500 sweeps:");
            plain_total += converged_counts(&rbm, &starts, &plain)
                .iter()
                .sum::<usize>();
        }
        // The negative control: the published rule leaves particles oscillating on these
        // models (0 of 200 at TAP2/TAP3 on the TAP2 model).
        assert!(
            plain_total < 4 * 600,
            "the plain map converged everywhere too"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// solver bookkeeping

#[test]
fn refresh_after_free_energy_forgets_the_old_hidden_field() {
    // The sequence of persistent training: solve -> free_energy -> new parameters -> refresh
    // -> solve. The second solve must start from fields of the NEW parameters: compare with a
    // fresh solver given the same magnetizations.
    let mut r = rng::rng(21);
    let rbm1 = random_model(12, 8, 0.8, 1.0, &mut r);
    let mut rbm2 = random_model(12, 8, 0.8, 1.0, &mut r);
    rbm2.a = rbm1.a.clone();
    let starts = binary_rows(5, 12, &mut r);
    for order in TapOrder::ALL {
        let opts = SolverOptions::paper();
        let mut s = TapSolver::new(order, 12, 8);
        s.refresh(&rbm1).unwrap();
        s.init_from_visible(&rbm1, starts.as_ref()).unwrap();
        s.solve(&rbm1, &opts).unwrap();
        s.free_energy(&rbm1).unwrap();
        let (mv, mh) = (s.visible().to_owned(), s.hidden().to_owned());
        s.refresh(&rbm2).unwrap();
        s.solve(&rbm2, &opts).unwrap();
        let mut fresh = TapSolver::new(order, 12, 8);
        fresh.refresh(&rbm2).unwrap();
        fresh.set_magnetizations(mv.as_ref(), mh.as_ref()).unwrap();
        fresh.solve(&rbm2, &opts).unwrap();
        let diff = (0..5)
            .flat_map(|p| (0..8).map(move |j| (p, j)))
            .map(|(p, j)| (s.hidden()[(p, j)] - fresh.hidden()[(p, j)]).abs())
            .fold(0.0, f64::max);
        assert!(
            diff < 1e-14,
            "{order}: stale field, hidden differ by {diff}"
        );
        assert_eq!(s.visible(), fresh.visible(), "{order}");
    }
}

/// The undamped TAP map of one layer at the given magnetizations (plain loops).
fn tap_map(
    rbm: &Rbm<f64>,
    order: usize,
    hidden: bool,
    m_self: &[f64],
    m_other: &[f64],
) -> Vec<f64> {
    let nu = |m: f64| m * (1.0 - m);
    let kap = |m: f64| (0.5 - m) * nu(m);
    let w = |i: usize, j: usize| if hidden { rbm.w[(j, i)] } else { rbm.w[(i, j)] };
    let bias = if hidden { &rbm.b } else { &rbm.a };
    (0..m_self.len())
        .map(|i| {
            let mut x = bias[i];
            for (j, &mo) in m_other.iter().enumerate() {
                x += w(i, j) * mo;
                if order >= 2 {
                    x += (0.5 - m_self[i]) * w(i, j).powi(2) * nu(mo);
                }
                if order >= 3 {
                    x += (1.0 / 3.0 - 2.0 * nu(m_self[i])) * w(i, j).powi(3) * kap(mo);
                }
            }
            sigmoid(x)
        })
        .collect()
}

#[test]
fn the_residual_is_the_undamped_map_residual_for_every_rule_and_damping() {
    // Hidden first: the hidden residual is |f_h(mv0, mh0) - mh0|, the visible one
    // |f_v(mh1, mv0) - mv0| with mh1 the hidden layer after its update (whatever the rule).
    let mut r = rng::rng(22);
    let rbm = random_model(5, 4, 1.5, 1.0, &mut r);
    let mv0: Vec<f64> = (0..5).map(|i| 0.15 + 0.14 * i as f64).collect();
    let mh0: Vec<f64> = (0..4).map(|j| 0.8 - 0.17 * j as f64).collect();
    for order in TapOrder::ALL {
        for (rule, damping) in [
            (UpdateRule::FixedPoint, 0.0),
            (UpdateRule::FixedPoint, 0.5),
            (UpdateRule::Exact, 0.0),
            (UpdateRule::Exact, 0.7),
        ] {
            let mut s = TapSolver::new(order, 5, 4);
            s.refresh(&rbm).unwrap();
            let (a, b) = (
                Mat::from_fn(1, 5, |_, i| mv0[i]),
                Mat::from_fn(1, 4, |_, j| mh0[j]),
            );
            s.set_magnetizations(a.as_ref(), b.as_ref()).unwrap();
            let opts = SolverOptions::builder()
                .rule(rule)
                .damping(damping)
                .max_sweeps(1)
                .build()
                .unwrap();
            let rep = s.solve(&rbm, &opts).unwrap();
            let mh1: Vec<f64> = (0..4).map(|j| s.hidden()[(0, j)]).collect();
            let fh = tap_map(&rbm, order.k(), true, &mh0, &mv0);
            let fv = tap_map(&rbm, order.k(), false, &mv0, &mh1);
            let want = fh
                .iter()
                .zip(&mh0)
                .chain(fv.iter().zip(&mv0))
                .map(|(f, m)| (f - m).abs())
                .fold(0.0, f64::max);
            assert!(
                (rep.residual - want).abs() < 1e-13 * want.max(1.0),
                "{order} {rule:?} d={damping}: residual {} vs |f(m) - m| = {want}",
                rep.residual
            );
            if rule == UpdateRule::FixedPoint {
                // The damped step moved the units by (1 - d) of the residual only.
                let moved = (0..4).map(|j| (mh1[j] - mh0[j]).abs()).fold(0.0, f64::max);
                let fh_res = fh
                    .iter()
                    .zip(&mh0)
                    .map(|(f, m)| (f - m).abs())
                    .fold(0.0, f64::max);
                assert!((moved - (1.0 - damping) * fh_res).abs() < 1e-14);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// G_k itself

#[test]
fn g_k_is_symmetric_under_exchanging_the_layers() {
    let mut r = rng::rng(23);
    let rbm = random_model(6, 4, 0.9, 1.0, &mut r);
    let mv = Mat::from_fn(3, 6, |p, i| {
        0.05 + 0.9 * ((p * 7 + i * 3) % 11) as f64 / 10.0
    });
    let mh = Mat::from_fn(3, 4, |p, j| 0.1 + 0.8 * ((p * 5 + j * 2) % 7) as f64 / 6.0);
    let flipped = rbm.transpose();
    for order in TapOrder::ALL {
        let g = gibbs_free_energy(&rbm, order, mv.as_ref(), mh.as_ref()).unwrap();
        let gt = gibbs_free_energy(&flipped, order, mh.as_ref(), mv.as_ref()).unwrap();
        for (a, b) in g.iter().zip(&gt) {
            assert!(
                (a - b).abs() < 1e-12 * a.abs().max(1.0),
                "{order}: {a} vs {b}"
            );
        }
        // And the fixed points: solving the transposed model from the hidden side gives the
        // same ln Z.
        let est = tap::log_partition(&rbm, order, mv.as_ref(), &SolverOptions::converged())
            .unwrap()
            .value()
            .unwrap();
        let s = solved(&rbm, order, &mv, &SolverOptions::converged());
        let est_t = tap::log_partition(
            &flipped,
            order,
            s.hidden().to_owned().as_ref(),
            &SolverOptions::converged(),
        )
        .unwrap()
        .value()
        .unwrap();
        assert!((est - est_t).abs() < 1e-8, "{order}: {est} vs {est_t}");
    }
}

/// The exact Gibbs free energy `G(m) = max_l [l.m - ln Z(a + l_v, b + l_h)]` (the Legendre
/// transform of ln Z in the biases) of a tiny model, by Newton's method on the concave
/// objective with exact moments from enumerating every joint state.
fn exact_gibbs_free_energy(rbm: &Rbm<f64>, m: &[f64]) -> f64 {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let n = nv + nh;
    let mut lam = vec![0.0; n];
    let unit = |s: usize, u: usize| (s >> u & 1) as f64;
    let mut value = 0.0;
    for _ in 0..100 {
        // ln Z, first and second moments under the shifted biases.
        let logw: Vec<f64> = (0..1usize << n)
            .map(|s| {
                let mut e = 0.0;
                for u in 0..n {
                    let bias = if u < nv { rbm.a[u] } else { rbm.b[u - nv] };
                    e += (bias + lam[u]) * unit(s, u);
                }
                for i in 0..nv {
                    for j in 0..nh {
                        e += rbm.w[(i, j)] * unit(s, i) * unit(s, nv + j);
                    }
                }
                e
            })
            .collect();
        let max = logw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let p: Vec<f64> = logw.iter().map(|x| (x - max).exp()).collect();
        let z: f64 = p.iter().sum();
        let ln_z = max + z.ln();
        let mean: Vec<f64> = (0..n)
            .map(|u| {
                p.iter()
                    .enumerate()
                    .map(|(s, q)| q * unit(s, u))
                    .sum::<f64>()
                    / z
            })
            .collect();
        let cov = Mat::from_fn(n, n, |u, t| {
            p.iter()
                .enumerate()
                .map(|(s, q)| q * unit(s, u) * unit(s, t))
                .sum::<f64>()
                / z
                - mean[u] * mean[t]
        });
        value = lam.iter().zip(m).map(|(l, x)| l * x).sum::<f64>() - ln_z;
        let grad: Vec<f64> = m.iter().zip(&mean).map(|(a, b)| a - b).collect();
        if grad.iter().all(|g| g.abs() < 1e-14) {
            break;
        }
        // lam += Cov^-1 grad.
        use emf_rbm::faer::linalg::solvers::Solve;
        let step = cov
            .partial_piv_lu()
            .solve(Mat::from_fn(n, 1, |u, _| grad[u]));
        for u in 0..n {
            lam[u] += step[(u, 0)];
        }
    }
    value
}

#[test]
fn g_k_approximates_the_exact_gibbs_free_energy_away_from_stationarity() {
    // G_k(m) is the Plefka series of the exact G(m) truncated at order k, for ANY m, not
    // only at a fixed point: |G_k(m) - G(m)| must fall like eps^(k+1) with the weight scale.
    let mut r = rng::rng(24);
    let base = random_model(3, 2, 1.0, 0.7, &mut r);
    let m = [0.31, 0.62, 0.45, 0.7, 0.24];
    let (mv, mh) = (
        Mat::from_fn(1, 3, |_, i| m[i]),
        Mat::from_fn(1, 2, |_, j| m[3 + j]),
    );
    let eps = [0.05, 0.1, 0.2, 0.3];
    let mut errs = vec![Vec::new(); 3];
    for &e in &eps {
        let mut rbm = base.clone();
        for j in 0..2 {
            for i in 0..3 {
                rbm.w[(i, j)] *= e;
            }
        }
        let exact = exact_gibbs_free_energy(&rbm, &m);
        for (k, order) in TapOrder::ALL.into_iter().enumerate() {
            let g = gibbs_free_energy(&rbm, order, mv.as_ref(), mh.as_ref()).unwrap()[0];
            errs[k].push((g - exact).abs());
        }
    }
    for (k, err) in errs.iter().enumerate() {
        let slope = log_log_slope(&eps, err);
        eprintln!("order {}: |G_k - G| = {err:?}, slope {slope:.3}", k + 1);
        let want = (k + 2) as f64;
        assert!(
            (slope - want).abs() < 0.25,
            "order {}: slope {slope}, expected {want}",
            k + 1
        );
    }
}

#[test]
fn a_single_fixed_point_misses_ln_z_by_ln_2_on_a_two_state_model() {
    // One hidden unit selects between a pattern xi and its complement with equal weight:
    // w_i = 2 beta (2 xi_i - 1), a_i = -w_i / 2, b = 0 (xi balanced). Then
    // ln Z = ln 2 + 4 sp(beta) + 4 sp(-beta) for 8 pixels, and each state's mean-field
    // solution accounts for one half of Z only.
    //
    // Measured limits of the orders on this family: with 16 pixels and beta = 1 the hidden
    // unit's Onsager field (16 W^2 nu_v = 12.6) pulls TAP2's solution to m_h = 1/2 (one
    // symmetric point with -G2 above ln Z); with 8 pixels and beta = 2 (below) MF and TAP2
    // separate the states but the third-order term (|W^3 kappa| sums of -26 on the hidden
    // unit) does not: TAP3's two points sit at m_h = 0.68 and 0.32 with -G3 = ln Z + 0.59,
    // the series has broken down at weights of 4.
    let beta = 2.0;
    let xi: Vec<f64> = (0..8).map(|i| (i < 4) as u8 as f64).collect();
    let mut rbm = Rbm::<f64>::zeros(8, 1).unwrap();
    for i in 0..8 {
        rbm.w[(i, 0)] = 2.0 * beta * (2.0 * xi[i] - 1.0);
        rbm.a[i] = -rbm.w[(i, 0)] / 2.0;
    }
    let ln_z = enumerate(&rbm).ln_z;
    let closed = 2f64.ln() + 4.0 * softplus(beta) + 4.0 * softplus(-beta);
    assert!((ln_z - closed).abs() < 1e-12);
    let starts = Mat::from_fn(2, 8, |p, i| if p == 0 { xi[i] } else { 1.0 - xi[i] });
    for order in [TapOrder::Mf, TapOrder::Tap2] {
        let mut s = solved(&rbm, order, &starts, &SolverOptions::converged());
        let g = s.free_energy(&rbm).unwrap();
        let (h0, h1) = (s.hidden()[(0, 0)], s.hidden()[(1, 0)]);
        eprintln!(
            "{order}: -G = {:.6}, {:.6}; ln Z = {ln_z:.6}; m_h = {h0:.2e}, {h1:.2e}",
            -g[0], -g[1]
        );
        assert!(
            h0 > 0.99 && h1 < 0.01,
            "{order}: the two starts did not reach the two states"
        );
        assert!(
            (g[0] - g[1]).abs() < 1e-9,
            "{order}: the states are symmetric"
        );
        let best = tap::log_partition(&rbm, order, starts.as_ref(), &SolverOptions::converged())
            .unwrap()
            .value()
            .unwrap();
        let miss = ln_z - best;
        assert!(
            (miss - 2f64.ln()).abs() < 0.01,
            "{order}: misses ln Z by {miss}"
        );
    }
}

/// Models trained with TAP2 iterated to a tolerance (100 fixed-point sweeps, tol 1e-4, the
/// notebook's `tap2-tol` and `ptap2-tol`) have stationary points the exact per-unit solver
/// reaches only slowly: about 1 150-1 250 sweeps for TAP2/TAP3 from 50 data starts (measured),
/// where 1 000 left 8 and 2 of 50 particles above 1e-8. `SolverOptions::converged()` must
/// converge on them at every order.
#[test]
fn converged_preset_converges_on_models_trained_to_a_tolerance() {
    use emf_rbm::data::Dataset;
    use emf_rbm::train::{TrainConfig, Trainer};
    let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 1).unwrap();
    let starts = train.head(50).to_mat::<f64>();
    for persistent in [false, true] {
        let tol = TapConfig {
            sweeps: 100,
            tolerance: 1e-4,
            ..TapConfig::paper(TapOrder::Tap2)
        }
        .persistent(persistent);
        let cfg = TrainConfig::builder()
            .n_hidden(16)
            .epochs(30)
            .batch_size(20)
            .learning_rate(0.05)
            .momentum(0.5)
            .seed(1)
            .method(Method::Tap(tol))
            .build()
            .unwrap();
        let rbm = Trainer::<f64>::new(cfg)
            .fit(&train, Some(&test))
            .unwrap()
            .rbm;
        for order in TapOrder::ALL {
            let est = tap::log_partition(&rbm, order, starts.as_ref(), &SolverOptions::converged())
                .unwrap();
            eprintln!(
                "persistent {persistent} {}: {}/{} converged in {} sweeps (max residual {:.1e})",
                order.name(),
                est.n_converged,
                est.n_particles,
                est.sweeps,
                est.max_residual
            );
            assert_eq!(
                est.n_converged,
                est.n_particles,
                "persistent {persistent} {}: {} of {} converged, max residual {:.2e} after {} sweeps",
                order.name(),
                est.n_converged,
                est.n_particles,
                est.max_residual,
                est.sweeps
            );
        }
    }
}

/// The trainer hands the TAP phase the positive phase's hidden fields `V W` so that
/// data-initialised particles skip one GEMM, and the phase fuses the data term of the weight
/// gradient with `Mv^T Mh`: the gradient must equal the data term plus the one the phase
/// computes from the minibatch alone (the biases bit for bit, W to rounding), at every order,
/// in f64 and f32, at a size where faer's GEMM blocks (784 x 500, 100 rows: the particle
/// buffers are padded to 112 rows).
#[test]
fn tap_phase_given_the_positive_fields_gives_the_identical_gradient() {
    fn check<T: emf_rbm::Float>(order: TapOrder) {
        let mut r = rng::rng(21);
        let rbm = random_model(784, 500, 0.05, 1.0, &mut r).cast::<T>();
        let batch = binary_rows(100, 784, &mut r);
        let batch = Mat::<T>::from_fn(100, 784, |i, j| T::of(batch[(i, j)]));
        let mut field = Mat::<T>::zeros(100, 500);
        let mut probs = Mat::<T>::zeros(100, 500);
        rbm.hidden_field_and_probs_into(batch.as_ref(), field.as_mut(), probs.as_mut());
        assert_eq!(probs, rbm.hidden_probs(batch.as_ref()));
        let cfg = TapConfig::paper(order);
        let mut plain = Gradient::<T>::zeros(784, 500);
        let mut reused = Gradient::<T>::zeros(784, 500);
        let positive = PositivePhase {
            batch: batch.as_ref(),
            hidden_field: field.as_ref(),
            hidden_probs: probs.as_ref(),
            sparse: None,
        };
        positive.weight_gradient_into(&mut plain);
        let mut phase = TapPhase::<T>::new(cfg, 784, 500);
        phase
            .subtract_model_statistics(&rbm, batch.as_ref(), &mut plain, &mut rng::rng(1))
            .unwrap();
        let mut phase = TapPhase::<T>::new(cfg, 784, 500);
        phase
            .weight_gradient_from(&rbm, positive, &mut reused, &mut rng::rng(1))
            .unwrap();
        // The data term and Mv^T Mh are one GEMM in `weight_gradient_from`: the same sums
        // in another order, so equal to rounding (a few units of the last place).
        let diff = (0..784)
            .flat_map(|i| (0..500).map(move |j| (i, j)))
            .map(|(i, j)| (plain.w[(i, j)] - reused.w[(i, j)]).as_f64().abs())
            .fold(0.0, f64::max);
        let eps = if T::NAME == "f32" { 1.2e-7 } else { 2.3e-16 };
        assert!(
            diff <= 16.0 * eps,
            "{order:?} {}: W gradient differs by {diff}",
            T::NAME
        );
        assert!(
            plain.a == reused.a && plain.b == reused.b,
            "{order:?} {}",
            T::NAME
        );
        assert!(plain.w.norm_l2() > T::of(0.0));
    }
    for order in [TapOrder::Mf, TapOrder::Tap2, TapOrder::Tap3] {
        check::<f64>(order);
        check::<f32>(order);
    }
}
