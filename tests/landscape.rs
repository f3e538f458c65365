//! Tests of the TAP landscape: the Hessian of G_k against finite differences of G_k, the
//! inertia against the eigenvalues of the dense matrix, and the set of fixed points against
//! exact enumeration on models with several states of known weight.

use emf_rbm::estimate::fixed_points::{find_fixed_points, random_starts, FixedPointOptions};
use emf_rbm::estimate::{exact, tap};
use emf_rbm::faer::{Mat, Side};
use emf_rbm::tap::{gibbs_free_energy, gibbs_hessian, StationaryKind, TapOrder};
use emf_rbm::Rbm;
use rand::Rng as _;

mod common;

const ORDERS: [TapOrder; 3] = [TapOrder::Mf, TapOrder::Tap2, TapOrder::Tap3];

fn g_at(rbm: &Rbm<f64>, order: TapOrder, m: &[f64]) -> f64 {
    let nv = rbm.n_visible();
    let mv = Mat::from_fn(1, nv, |_, i| m[i]);
    let mh = Mat::from_fn(1, m.len() - nv, |_, j| m[nv + j]);
    gibbs_free_energy(rbm, order, mv.as_ref(), mh.as_ref()).unwrap()[0]
}

#[test]
fn hessian_matches_second_differences_of_g() {
    let rbm = common::random_rbm(5, 4, 0.9, 0.5, 11);
    let mut rng = emf_rbm::rng::rng(5);
    let m: Vec<f64> = (0..9).map(|_| rng.random_range(0.15..0.85)).collect();
    let h = 1e-4;
    for order in ORDERS {
        let dense = gibbs_hessian(&rbm, order, &m[..5], &m[5..])
            .unwrap()
            .to_dense();
        let mut worst: f64 = 0.0;
        for a in 0..9 {
            for b in 0..9 {
                let at = |sa: f64, sb: f64| {
                    let mut x = m.clone();
                    x[a] += sa * h;
                    x[b] += sb * h;
                    g_at(&rbm, order, &x)
                };
                let fd =
                    (at(1.0, 1.0) - at(1.0, -1.0) - at(-1.0, 1.0) + at(-1.0, -1.0)) / (4.0 * h * h);
                worst = worst.max((fd - dense[(a, b)]).abs());
            }
        }
        assert!(
            worst < 2e-5,
            "{order}: largest |H - finite difference| {worst:e}"
        );
    }
}

/// The inertia by the Schur complement equals the signs of the dense matrix's eigenvalues,
/// when the visible block is eliminated (nv >= nh) and when the hidden one is (nv < nh).
#[test]
fn inertia_matches_dense_eigenvalues() {
    let mut rng = emf_rbm::rng::rng(9);
    let mut saddles = 0;
    for (nv, nh, seed) in [(6, 3, 1), (3, 7, 2), (5, 5, 3)] {
        let rbm = common::random_rbm(nv, nh, 3.0, 0.5, seed);
        for order in ORDERS {
            for _ in 0..20 {
                let mv: Vec<f64> = (0..nv).map(|_| rng.random_range(0.3..0.7)).collect();
                let mh: Vec<f64> = (0..nh).map(|_| rng.random_range(0.3..0.7)).collect();
                let hess = gibbs_hessian(&rbm, order, &mv, &mh).unwrap();
                let eig = hess
                    .to_dense()
                    .self_adjoint_eigenvalues(Side::Lower)
                    .unwrap();
                let negative = eig.iter().filter(|x| **x < 0.0).count();
                let inertia = hess.inertia().unwrap();
                assert_eq!(inertia.negative, negative, "{nv}x{nh} {order}: {eig:?}");
                assert_eq!(inertia.negative + inertia.positive, nv + nh);
                saddles += usize::from(negative > 0);
            }
        }
    }
    // The points are chosen so that both kinds occur.
    assert!(
        saddles > 10 && saddles < 160,
        "{saddles} of 180 points had a negative eigenvalue"
    );
}

/// `K` patterns on disjoint blocks of `n` visible units, hidden unit `k` on with block `k`, and
/// the all-off state: `K + 1` states of equal energy 0, separated by `w`.
fn pattern_model(k: usize, n: usize, w: f64) -> Rbm<f64> {
    let mut rbm = Rbm::<f64>::zeros(k * n, k).unwrap();
    for mu in 0..k {
        for i in 0..k * n {
            rbm.w[(i, mu)] = if i / n == mu { w } else { -w };
        }
        rbm.b[mu] = -w / 2.0 * n as f64;
    }
    rbm.a = vec![-w / 2.0; k * n];
    rbm
}

/// The symmetric point m = 1/2 of the two-state model: a saddle of G_1 and G_3 (index 1), but
/// a MINIMUM of G_2, which the Onsager term stabilises although the expansion does not hold
/// there (Plefka radius sqrt(8) > 1), with -G_2 above the exact ln Z. It is not a state.
#[test]
fn symmetric_two_state_model_has_two_states_and_a_spurious_symmetric_point() {
    let rbm = pattern_model(1, 8, 4.0);
    let exact = exact::log_partition(&rbm).unwrap();
    let starts = Mat::<f64>::from_fn(3, 8, |r, _| r as f64 / 2.0); // 0, 1/2, 1
    for order in ORDERS {
        let set = find_fixed_points(&rbm, order, starts.as_ref(), &Default::default()).unwrap();
        let kinds: Vec<StationaryKind> = set.points.iter().map(|p| p.kind).collect();
        assert_eq!(set.points.len(), 3, "{order}: {kinds:?}");
        // TAP3 at this coupling has no state at all: the starts at 0 and 1 end at two
        // spurious minima (m ~ 0.36 and 0.64, radius 2.28), with -G_3 = 2.30 against the
        // exact 1.71.
        let states = if order == TapOrder::Tap3 { 0 } else { 2 };
        assert_eq!(set.n_states(), states, "{order}: {kinds:?}");
        let sym = set.points.iter().find(|p| p.first_start == 1).unwrap();
        assert!(sym.visible.iter().all(|m| (m - 0.5).abs() < 1e-9));
        assert!((sym.plefka_radius - 8f64.sqrt()).abs() < 1e-9);
        assert!(!sym.is_state());
        match order {
            TapOrder::Tap2 => {
                assert_eq!(sym.kind, StationaryKind::Minimum);
                assert!(
                    -sym.free_energy > exact + 0.4,
                    "{} vs {exact}",
                    -sym.free_energy
                );
                // counted by the estimate over all minima, left out of the set of states
                assert!(set.ln_z_minima().unwrap() > exact + 0.4);
                assert!((set.ln_z_set().unwrap() - exact).abs() < 0.006);
            }
            _ => assert_eq!(sym.kind, StationaryKind::Saddle { index: 1 }, "{order}"),
        }
    }
}

/// `k` independent copies of the symmetric two-state model (`n` visible units and one hidden
/// unit each): `2^k` states of equal weight, `ln Z = k ln Z_1`, and every TAP quantity
/// factorises over the blocks.
fn two_state_blocks(k: usize, n: usize, w: f64) -> Rbm<f64> {
    let mut rbm = Rbm::<f64>::zeros(k * n, k).unwrap();
    for mu in 0..k {
        for i in mu * n..(mu + 1) * n {
            rbm.w[(i, mu)] = w;
        }
        rbm.b[mu] = -w / 2.0 * n as f64;
    }
    rbm.a = vec![-w / 2.0; k * n];
    rbm
}

/// The set estimate is close to the exact ln Z of a model with 2, 4 and 8 equal states, and the
/// single best fixed point misses it by about ln(number of states); the starts are random
/// binary rows, not chosen.
#[test]
fn set_estimate_counts_every_state() {
    for k in [1, 2, 3] {
        let rbm = two_state_blocks(k, 8, 4.0);
        let exact = exact::log_partition(&rbm).unwrap();
        let starts = random_starts::<f64>(300, k * 8, 7);
        // Each state's own TAP error is below 0.006 per block (TAP2 +0.0052, MF < 1e-4 for one
        // block): the set estimate may err by that per block, not by ln 2 per block.
        let tol = 0.006 * k as f64;
        for order in [TapOrder::Mf, TapOrder::Tap2] {
            let set =
                find_fixed_points(&rbm, order, starts.as_ref(), &FixedPointOptions::default())
                    .unwrap();
            assert_eq!(set.n_states(), 1 << k, "{order}, k = {k}");
            let (with_set, best) = (set.ln_z_set().unwrap(), set.ln_z_best());
            assert!(
                (with_set - exact).abs() < tol,
                "{order}, k = {k}: set {with_set} vs exact {exact}"
            );
            let missed = exact - best;
            let states = k as f64 * 2f64.ln();
            assert!(
                (missed - states).abs() < tol,
                "{order}, k = {k}: the best state misses {missed}, ln 2^k = {states}"
            );
            let basins: usize = set.points.iter().map(|p| p.basin).sum();
            assert_eq!(basins, set.n_converged);
        }
    }
}

/// The set's single-solution estimate is exactly `log_partition`'s for the same starts, and
/// each state's nearest data row is the pattern it stores.
#[test]
fn set_estimate_agrees_with_log_partition_and_finds_nearest_rows() {
    let rbm = common::random_rbm(12, 6, 1.5, 0.5, 4);
    let starts = random_starts::<f64>(150, 12, 2);
    let opts = FixedPointOptions::default();
    for order in ORDERS {
        let set = find_fixed_points(&rbm, order, starts.as_ref(), &opts).unwrap();
        let est = tap::log_partition(&rbm, order, starts.as_ref(), &opts.solver).unwrap();
        assert_eq!(set.estimate(), est, "{order}");
        assert!(set
            .points
            .windows(2)
            .all(|p| p[0].free_energy <= p[1].free_energy));
    }
    let rbm = two_state_blocks(1, 8, 4.0);
    let set = find_fixed_points(&rbm, TapOrder::Tap2, starts.subcols(0, 8), &opts).unwrap();
    // rows: all off, all at 1/2, all on
    let data = Mat::<f64>::from_fn(3, 8, |r, _| r as f64 / 2.0);
    let nearest = set.nearest_rows(data.as_ref()).unwrap();
    for (p, (row, d)) in set.points.iter().zip(nearest) {
        let expected = match p.visible[0] {
            m if m < 0.3 => 0,
            m if m > 0.7 => 2,
            _ => 1,
        };
        assert_eq!(row, expected, "{:?}", p.visible);
        let brute: f64 = (0..8)
            .map(|i| (data[(row, i)] - p.visible[i]).powi(2))
            .sum();
        assert!((d - brute).abs() < 1e-12);
    }
    assert!(set.nearest_rows(data.subcols(0, 5)).is_err());
}

/// A census during training records the requested epochs with the exact ln Z, its errors are
/// the set's estimates minus that value, and its figures draw one point per minimum.
#[test]
fn census_follows_training_and_draws_its_figures() {
    use emf_rbm::data::Dataset;
    use emf_rbm::plot::census::{
        free_energy_chart, ln_z_error_chart, solutions_chart, states_mosaic,
    };
    use emf_rbm::train::census::{census_table, FixedPointCensus};
    use emf_rbm::train::{Method, TrainConfig, Trainer};
    let data = Dataset::digits().binarize(0.5);
    let x = data.to_mat::<f64>();
    let method: Method = "tap2".parse().unwrap();
    let cfg = TrainConfig::builder()
        .method(method)
        .n_hidden(10)
        .epochs(6)
        .seed(2)
        .build()
        .unwrap();
    let starts = Mat::<f64>::from_fn(60, 64, |r, i| x[(r * 7, i)]);
    let (census, records) = FixedPointCensus::new(
        TapOrder::Tap2,
        starts.clone(),
        FixedPointOptions::default(),
        vec![2, 6],
    );
    let fitted = Trainer::<f64>::new(cfg)
        .with_observer(census.with_exact())
        .fit(&data, None)
        .unwrap();
    let r = records.get();
    assert_eq!(r.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![2, 6]);
    // the last record is the final model's census
    let exact = exact::log_partition(&fitted.rbm).unwrap();
    assert_eq!(r[1].ln_z_exact, Some(exact));
    let set = find_fixed_points(
        &fitted.rbm,
        TapOrder::Tap2,
        starts.as_ref(),
        &FixedPointOptions::default(),
    )
    .unwrap();
    assert_eq!(r[1].set, set);
    assert_eq!(r[1].single_error(), Some(set.estimate().ln_z - exact));
    if let Ok(z) = set.ln_z_set() {
        assert_eq!(r[1].set_error(), Some(z - exact));
    }
    let runs = [("tap2", &r[..])];
    assert_eq!(census_table(&runs).lines().count(), 2 + 2);
    let minima: usize = r.iter().map(|r| r.set.n_minima()).sum();
    let spread = free_energy_chart(&runs);
    assert_eq!(spread.series[0].points.len(), minima);
    assert!(spread.series[0].points.iter().any(|p| p.1 == 0.0));
    for chart in [solutions_chart(&runs), spread, ln_z_error_chart(&runs)] {
        assert!(chart.to_svg().is_ok());
    }
    let mosaic = states_mosaic(&set, x.as_ref(), (8, 8), 3).unwrap();
    assert_eq!(mosaic.tiles.len(), 2 * set.n_minima().min(3));
    let (row, _) = set.nearest_rows(x.as_ref()).unwrap()[0];
    assert_eq!(
        mosaic.tiles[1],
        (0..64).map(|i| x[(row, i)]).collect::<Vec<_>>()
    );
    assert_eq!(mosaic.tiles[0], set.points[0].visible);
}

/// The fourth-order estimate's ln Z error falls as eps^5 with the weight scale eps (TAP3's as
/// eps^4), on a model whose error terms all have one sign (W >= 0, biases <= -0.5: every
/// m < 1/2), as the slope tests of orders 1-3 in tests/tap.rs.
#[test]
fn fourth_order_error_falls_as_eps_to_the_fifth() {
    use emf_rbm::estimate::tap::log_partition_tap4;
    use emf_rbm::tap::SolverOptions;
    let mut w0 = common::random_rbm(8, 6, 0.5, 1.0, 105);
    for j in 0..6 {
        for i in 0..8 {
            w0.w[(i, j)] = w0.w[(i, j)].abs();
        }
    }
    w0.a.iter_mut().for_each(|x| *x = -x.abs() - 0.5);
    w0.b.iter_mut().for_each(|x| *x = -x.abs() - 0.5);
    let opts = SolverOptions {
        tolerance: 1e-14,
        ..SolverOptions::converged()
    };
    let start = Mat::<f64>::zeros(1, 8);
    let (mut e3, mut e4) = (Vec::new(), Vec::new());
    let eps = [0.4, 0.2, 0.1, 0.05];
    for &e in &eps {
        let mut rbm = w0.clone();
        rbm.w
            .col_iter_mut()
            .for_each(|c| c.iter_mut().for_each(|x| *x *= e));
        let z = exact::log_partition(&rbm).unwrap();
        let est = log_partition_tap4(&rbm, start.as_ref(), &opts).unwrap();
        assert_eq!(est.tap3.n_converged, 1);
        e3.push((est.tap3.ln_z - z).abs());
        e4.push((est.ln_z - z).abs());
    }
    let slopes = |e: &[f64]| -> Vec<f64> { e.windows(2).map(|p| (p[0] / p[1]).log2()).collect() };
    let (s3, s4) = (slopes(&e3), slopes(&e4));
    eprintln!("TAP3 errors {e3:?} slopes {s3:.2?}; TAP4 errors {e4:?} slopes {s4:.2?}");
    assert!((s3[2] - 4.0).abs() < 0.3, "TAP3 slope {s3:?}");
    assert!((s4[2] - 5.0).abs() < 0.3, "TAP4 slope {s4:?}");
    assert!(
        e4.iter().zip(&e3).all(|(a, b)| a < b),
        "TAP4 beats TAP3 at every eps"
    );
}

/// The ladder on the Ising torus written as an RBM (L = 6, exact ln Z): in the paramagnetic
/// phase the TAP3 correction vanishes (kappa = 0 at m = 1/2) and the fourth order cuts the
/// error several times; deep in the ordered phase every single fixed point misses the
/// twin state (ln 2) and the TAP2 set of states recovers it.
#[test]
fn ladder_on_the_ising_torus() {
    use emf_rbm::estimate::fixed_points::random_starts;
    use emf_rbm::estimate::ladder::estimate_ladder;
    use emf_rbm::ising::{bipartite::ising_as_rbm, exact_finite};
    use emf_rbm::tap::SolverOptions;
    let l = 6;
    let r = random_starts::<f64>(20, l * l / 2, 1);
    let starts = Mat::<f64>::from_fn(22, l * l / 2, |i, j| match i {
        0 => 0.0,
        1 => 1.0,
        _ => r[(i - 2, j)],
    });
    for t in [1.0, 5.0, 8.0] {
        let m = ising_as_rbm(l, t).unwrap();
        let exact = exact_finite(l, t).unwrap().ln_z;
        let ladder = estimate_ladder(&m.rbm, starts.as_ref(), &SolverOptions::converged())
            .unwrap()
            .shifted(m.ln_z_offset);
        let e = ladder.errors(exact, 1.0);
        eprintln!("T {t}: errors (nats) {e:?}");
        if t > 2.5 {
            assert!((e[1] - e[2]).abs() < 1e-9, "TAP3 = TAP2 at m = 1/2: {e:?}");
            assert!(e[3].abs() < e[2].abs() / 5.0, "{e:?}");
            assert!(e[2].abs() < e[0].abs(), "{e:?}");
        } else {
            for k in 0..4 {
                assert!((e[k] + 2f64.ln()).abs() < 0.02, "T {t}, order {k}: {e:?}");
            }
            assert!(e[4].abs() < 0.02, "the set of states counts both: {e:?}");
        }
    }
}

/// The fourth-order weight gradient is the derivative of the fourth-order term at fixed
/// magnetizations (central differences of `fourth_order_correction`, averaged over particles),
/// and the TAP4 phase's model gradient is that of `G4 = G3 + (G4 - G3)` as a whole.
#[test]
fn fourth_order_weight_gradient_matches_finite_differences() {
    use emf_rbm::tap::fourth::{fourth_order_correction, fourth_order_weight_gradient};
    use emf_rbm::tap::TapOrder;
    use emf_rbm::train::tap::{Tap4Phase, TapConfig};
    use emf_rbm::train::{Gradient, NegativePhase};
    let rbm = common::random_rbm(5, 4, 0.9, 0.5, 21);
    let mut rng = emf_rbm::rng::rng(8);
    let mv = Mat::<f64>::from_fn(3, 5, |_, _| rng.random_range(0.1..0.9));
    let mh = Mat::<f64>::from_fn(3, 4, |_, _| rng.random_range(0.1..0.9));
    let g = fourth_order_weight_gradient(&rbm, mv.as_ref(), mh.as_ref()).unwrap();
    let mean_delta = |m: &Rbm<f64>| -> f64 {
        let d = fourth_order_correction(m, mv.as_ref(), mh.as_ref()).unwrap();
        d.iter().sum::<f64>() / d.len() as f64
    };
    let h = 1e-5;
    let mut largest = 0.0f64;
    for i in 0..5 {
        for j in 0..4 {
            let (mut up, mut down) = (rbm.clone(), rbm.clone());
            up.w[(i, j)] += h;
            down.w[(i, j)] -= h;
            let fd = (mean_delta(&up) - mean_delta(&down)) / (2.0 * h);
            assert!(
                (g[(i, j)] - fd).abs() < 1e-9,
                "({i}, {j}): {} vs {fd}",
                g[(i, j)]
            );
            largest = largest.max(fd.abs());
        }
    }
    assert!(largest > 1e-3, "the check must see a gradient: {largest}");

    // The phase: grad.w = mean over its particles of dG4/dW at fixed magnetizations (it
    // subtracts d ln Z / dW = -dG4/dW from a zero gradient).
    let batch = Mat::<f64>::from_fn(3, 5, |r, i| ((r + i) % 2) as f64);
    let mut phase = Tap4Phase::new(TapConfig::paper(TapOrder::Tap3), 5, 4).unwrap();
    let mut grad = Gradient::zeros(5, 4);
    let mut r = emf_rbm::rng::rng(1);
    phase
        .subtract_model_statistics(&rbm, batch.as_ref(), &mut grad, &mut r)
        .unwrap();
    // The particles the phase ended at: rerun TAP3 the same way and read them.
    let mut tap3 = emf_rbm::train::tap::TapPhase::new(TapConfig::paper(TapOrder::Tap3), 5, 4);
    let mut unused = Gradient::zeros(5, 4);
    tap3.subtract_model_statistics(&rbm, batch.as_ref(), &mut unused, &mut r)
        .unwrap();
    let (pv, ph) = (
        tap3.solver().visible().to_owned(),
        tap3.solver().hidden().to_owned(),
    );
    let g4 = |m: &Rbm<f64>| -> f64 {
        let g3 = gibbs_free_energy(m, TapOrder::Tap3, pv.as_ref(), ph.as_ref()).unwrap();
        let d = fourth_order_correction(m, pv.as_ref(), ph.as_ref()).unwrap();
        g3.iter().zip(&d).map(|(a, b)| a + b).sum::<f64>() / d.len() as f64
    };
    for i in 0..5 {
        for j in 0..4 {
            let (mut up, mut down) = (rbm.clone(), rbm.clone());
            up.w[(i, j)] += h;
            down.w[(i, j)] -= h;
            let fd = (g4(&up) - g4(&down)) / (2.0 * h);
            assert!(
                (grad.w[(i, j)] - fd).abs() < 1e-8,
                "({i}, {j}): {} vs {fd}",
                grad.w[(i, j)]
            );
        }
    }
}

/// Training with the fourth-order phase runs through the trainer (checkpointable name, exact
/// held-out likelihood rising on the digits).
#[test]
fn tap4_phase_trains_small_models() {
    use emf_rbm::data::Dataset;
    use emf_rbm::tap::TapOrder;
    use emf_rbm::train::tap::{Tap4Phase, TapConfig};
    use emf_rbm::train::{TrainConfig, Trainer};
    let digits = Dataset::digits().binarize(0.5);
    let (train, test) = digits.split(0.2, 1).unwrap();
    let cfg = TrainConfig::builder()
        .n_hidden(12)
        .epochs(3)
        .batch_size(20)
        .learning_rate(0.05)
        .seed(1)
        .build()
        .unwrap();
    let phase = Tap4Phase::<f64>::new(TapConfig::paper(TapOrder::Tap3), 64, 12).unwrap();
    let fitted = Trainer::<f64>::new(cfg)
        .with_negative_phase(Box::new(phase))
        .fit(&train, Some(&test))
        .unwrap();
    let x = test.to_mat::<f64>();
    let ll = |rbm: &Rbm<f64>| exact::mean_log_likelihood(rbm, x.as_ref()).unwrap();
    let start = Rbm::<f64>::zeros(64, 12).unwrap();
    let (before, after) = (ll(&start), ll(&fitted.rbm));
    assert!(after > before + 5.0, "held-out LL {before} -> {after}");
}
