//! RAISE (reverse AIS) against exact referees: the annealing model's probability computed by
//! enumeration on a tiny model (unbiasedness of `p^`, which pins every index and sign), the
//! bracket forward AIS >= exact >= RAISE on small trained and random models, the bracket
//! narrowing with the schedule, the W = 0 exact case, reproducibility across thread counts,
//! and argument checks.
//!
//! Cost: RAISE costs one reverse chain per scored row, i.e. `rows / runs` times a forward AIS
//! of the same schedule (~0.8 s per 100 chains of 14 500 temperatures at 64 x 20 in release
//! on one core), so the bracket tests score a fixed 150-row subset of the held-out digits.

use emf_rbm::data::Dataset;
use emf_rbm::estimate::ais::{Ais, AisBase, AisConfig, BetaSchedule};
use emf_rbm::estimate::exact;
use emf_rbm::estimate::raise::{scored_rows, select_rows, Raise, RaiseConfig, RaiseEstimate};
use emf_rbm::faer::Mat;
use emf_rbm::linalg::{sigmoid, softplus};
use emf_rbm::train::{Method, MonitorConfig, TrainConfig, Trainer};
use emf_rbm::{rng, Float, Rbm};

fn raise(schedule: BetaSchedule, chains: usize, seed: u64) -> Raise {
    Raise::new(RaiseConfig {
        schedule,
        chains,
        seed,
        ..RaiseConfig::default()
    })
    .unwrap()
}

fn ais(schedule: BetaSchedule, seed: u64) -> Ais {
    Ais::new(AisConfig {
        schedule,
        runs: 100,
        seed,
        ..AisConfig::default()
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// The annealing model by enumeration.

/// All `2^n` binary rows, state `s` has bit `i` = unit `i`.
fn states(n: usize) -> Vec<Vec<f64>> {
    (0..1usize << n)
        .map(|s| (0..n).map(|i| ((s >> i) & 1) as f64).collect())
        .collect()
}

/// `p_k(v' | h)` and `p_k(h | v)` products for the path at `beta`, and the Gibbs kernel
/// `T_k(v -> v') = sum_h p_k(h | v) p_k(v' | h)` as a dense matrix (rows: from).
fn gibbs_kernel(rbm: &Rbm<f64>, a_base: &[f64], beta: f64) -> Vec<Vec<f64>> {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let (vs, hs) = (states(nv), states(nh));
    let bern = |x: &[f64], p: &[f64]| -> f64 {
        x.iter()
            .zip(p)
            .map(|(&xi, &pi)| if xi > 0.5 { pi } else { 1.0 - pi })
            .product()
    };
    let ph_given_v = |v: &[f64]| -> Vec<f64> {
        let p: Vec<f64> = (0..nh)
            .map(|j| {
                let t = rbm.b[j] + (0..nv).map(|i| v[i] * rbm.w[(i, j)]).sum::<f64>();
                sigmoid(beta * t)
            })
            .collect();
        hs.iter().map(|h| bern(h, &p)).collect()
    };
    let pv_given_h: Vec<Vec<f64>> = hs
        .iter()
        .map(|h| {
            let p: Vec<f64> = (0..nv)
                .map(|i| {
                    let field = (0..nh).map(|j| h[j] * rbm.w[(i, j)]).sum::<f64>();
                    sigmoid((1.0 - beta) * a_base[i] + beta * (rbm.a[i] + field))
                })
                .collect();
            vs.iter().map(|v| bern(v, &p)).collect()
        })
        .collect();
    vs.iter()
        .map(|v| {
            let ph = ph_given_v(v);
            (0..vs.len())
                .map(|t| (0..hs.len()).map(|h| ph[h] * pv_given_h[h][t]).sum())
                .collect()
        })
        .collect()
}

/// `p_ann`: the law of `x_K` for `x_0 ~ p_0`, `x_k ~ T_k(x_{k-1}, .)`, `k = 1..K`.
fn annealing_model(rbm: &Rbm<f64>, a_base: &[f64], betas: &[f64]) -> Vec<f64> {
    let vs = states(rbm.n_visible());
    let mut p: Vec<f64> = vs
        .iter()
        .map(|v| {
            (0..v.len())
                .map(|i| {
                    let s = sigmoid(a_base[i]);
                    if v[i] > 0.5 {
                        s
                    } else {
                        1.0 - s
                    }
                })
                .product()
        })
        .collect();
    for &beta in &betas[1..] {
        let t = gibbs_kernel(rbm, a_base, beta);
        p = (0..vs.len())
            .map(|to| (0..vs.len()).map(|from| p[from] * t[from][to]).sum())
            .collect();
    }
    p
}

#[test]
fn reverse_weights_average_to_the_annealing_model() {
    // E[p^(v)] = p_ann(v) for ANY schedule if the indices and signs are right. A dense
    // schedule hides errors (p_ann ~ p and every step barely moves); 3 and 5 temperatures on
    // a tiny strongly coupled model do not: p_ann differs from p by tens of percent there,
    // and 200 000 reverse chains from one row pin E[p^] to about 1%.
    let mut rbm = Rbm::<f64>::random(7, 4, 1.2, &mut rng::rng(21)).unwrap();
    for (i, a) in rbm.a.iter_mut().enumerate() {
        *a = (1.3 * i as f64).sin();
    }
    for (j, b) in rbm.b.iter_mut().enumerate() {
        *b = (0.7 * j as f64).cos() - 0.5;
    }
    let a_base: Vec<f64> = (0..7).map(|i| 0.4 * (0.9 * i as f64).cos()).collect();
    let base = AisBase::from_biases(a_base.clone()).unwrap();
    let ln_z = exact::log_partition(&rbm).unwrap();
    let vs = states(7);
    let chains = 200_000;
    for schedule in [
        BetaSchedule::Explicit(vec![0.0, 0.5, 1.0]),
        BetaSchedule::Count(5),
    ] {
        let betas = schedule.betas().unwrap();
        let p_ann = annealing_model(&rbm, &a_base, &betas);
        assert!((p_ann.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut worst = 0.0f64;
        for (s, seed) in [(0b1010011usize, 1u64), (0b0000001, 2), (0b1111110, 3)] {
            let v = Mat::<f64>::from_fn(chains, 7, |_, i| vs[s][i]);
            let est = Raise::new(RaiseConfig {
                schedule: schedule.clone(),
                chains: 1,
                chunk_rows: 5000,
                seed,
            })
            .unwrap()
            .estimate(&rbm, &base, v.as_ref())
            .unwrap();
            // p^_c = exp(-F(v) - ln Z_c), relative to p_ann(v).
            let f = rbm.free_energy(v.subrows(0, 1))[0];
            let r: Vec<f64> = est
                .log_z_rows
                .iter()
                .map(|z| (-f - z).exp() / p_ann[s])
                .collect();
            let n = r.len() as f64;
            let mean = r.iter().sum::<f64>() / n;
            let se = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
            let p = (-f - ln_z).exp();
            println!(
                "{schedule:?} v={s:07b}: E[p^]/p_ann = {mean:.4} +- {se:.4}, p/p_ann = {:.4}, \
                 exp(E log p^)/p_ann = {:.4}",
                p / p_ann[s],
                (est.log_likelihood).exp() / p_ann[s]
            );
            assert!((mean - 1.0).abs() < 4.0 * se, "E[p^] != p_ann");
            assert!(se < 0.02, "not informative: se {se}");
            // Jensen: the mean log is below log p_ann.
            assert!(est.log_likelihood < p_ann[s].ln());
            worst = worst.max((p / p_ann[s] - 1.0).abs() / se);
        }
        // The test tells p_ann from p (by > 10 s.e. on some row), so an estimator of p
        // itself, or one on another path, would fail it.
        assert!(
            worst > 10.0,
            "{schedule:?}: p_ann ~ p, the test is too weak"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The bracket on small models.

fn digits() -> Dataset {
    Dataset::digits().binarize(0.5)
}

fn train(data: &Dataset, nh: usize, method: Method, epochs: usize) -> Rbm<f64> {
    let cfg = TrainConfig::builder()
        .n_hidden(nh)
        .method(method)
        .epochs(epochs)
        .learning_rate(0.05)
        .seed(nh as u64)
        .monitor(MonitorConfig {
            every: 0,
            ..MonitorConfig::default()
        })
        .build()
        .unwrap();
    Trainer::<f64>::new(cfg).fit(data, None).unwrap().rbm
}

/// Forward AIS and RAISE log-likelihoods on the same rows `v`.
struct Bracket {
    exact: f64,
    ais: (f64, f64, f64, f64),
    raise: RaiseEstimate,
}

fn bracket(
    rbm: &Rbm<f64>,
    base: &AisBase,
    v: &Mat<f64>,
    schedule: BetaSchedule,
    seed: u64,
) -> Bracket {
    let est = ais(schedule.clone(), seed).estimate(rbm, base).unwrap();
    let ll = est.log_likelihood(rbm, v.as_ref()).unwrap();
    let r = raise(schedule, 1, seed)
        .estimate(rbm, base, v.as_ref())
        .unwrap();
    Bracket {
        exact: exact::mean_log_likelihood(rbm, v.as_ref()).unwrap(),
        ais: (ll.mean, ll.lower, ll.upper, est.ess),
        raise: r,
    }
}

fn held_out(rows: usize) -> (Dataset, Mat<f64>, AisBase) {
    let (train_set, test_set) = digits().split(0.2, 5).unwrap();
    let all = test_set.to_mat::<f64>();
    let idx = scored_rows(all.nrows(), rows);
    let base = AisBase::from_data(&train_set, 0.05).unwrap();
    (train_set, select_rows(all.as_ref(), &idx), base)
}

#[test]
fn forward_and_reverse_estimates_bracket_the_exact_likelihood() {
    let (train_set, v, base) = held_out(150);
    let random = {
        let mut rbm = Rbm::<f64>::random(64, 20, 1.0, &mut rng::rng(120)).unwrap();
        for (i, a) in rbm.a.iter_mut().enumerate() {
            *a = base.a[i] + 0.3 * (1.7 * i as f64).sin();
        }
        rbm.b.iter_mut().for_each(|b| *b = -0.5);
        rbm
    };
    let models = [
        ("CD-1", train(&train_set, 16, Method::Cd { k: 1 }, 10)),
        (
            "PCD-1",
            train(&train_set, 20, Method::Pcd { k: 1, chains: None }, 10),
        ),
        ("TAP2", train(&train_set, 18, "tap2".parse().unwrap(), 10)),
        ("random", random),
    ];
    for (name, rbm) in &models {
        let b = bracket(rbm, &base, &v, BetaSchedule::Standard, 3);
        let (ll, lo, hi, ess) = b.ais;
        let r = &b.raise;
        println!(
            "{name:<6} nh={}: exact {:.3} | AIS {ll:.3} [{lo:.3}, {hi:.3}] ESS {ess:.1}/100 | \
             RAISE {:.3} [{:.3}, {:.3}] ESS {:.1}/{} | gap {:.3}",
            rbm.n_hidden(),
            b.exact,
            r.log_likelihood,
            r.lower,
            r.upper,
            r.ess,
            r.rows(),
            ll - r.log_likelihood
        );
        assert!(
            b.exact <= hi,
            "{name}: exact {} above the AIS interval",
            b.exact
        );
        assert!(
            r.lower <= b.exact,
            "{name}: exact {} below the RAISE interval",
            b.exact
        );
        // Informative: both intervals are narrow and the bracket is tight.
        assert!(
            hi - lo < 0.5 && r.upper - r.lower < 0.5,
            "{name}: intervals too wide"
        );
        assert!(
            (ll - r.log_likelihood).abs() < 0.5,
            "{name}: bracket too wide"
        );
        assert!(!r.low_ess(), "{name}: RAISE ESS {}", r.ess);
    }
}

#[test]
fn the_bracket_narrows_as_the_schedule_lengthens() {
    // Gap = forward AIS LL - RAISE LL on the same 150 rows, per seed, for 100, 1 000 and
    // 10 000 temperatures (the standard schedule's proportions): it must fall at every step
    // for every seed, and be clearly open at 100 (measured: ~0.8 nats, intervals ~0.5 wide).
    let (train_set, v, base) = held_out(150);
    let rbm = train(&train_set, 20, Method::Cd { k: 1 }, 20);
    let exact = exact::mean_log_likelihood(&rbm, v.as_ref()).unwrap();
    println!("CD-1 nh=20, exact held-out LL {exact:.3}");
    for seed in [1, 2] {
        let mut gaps = Vec::new();
        for n in [100, 1000, 10_000] {
            let b = bracket(&rbm, &base, &v, BetaSchedule::Count(n), seed);
            let gap = b.ais.0 - b.raise.log_likelihood;
            println!(
                "seed {seed} K={n:>6}: AIS {:.3} [{:.3}, {:.3}] ESS {:.1} | RAISE {:.3} [{:.3}, \
                 {:.3}] ESS {:.1} | gap {gap:.3}",
                b.ais.0,
                b.ais.1,
                b.ais.2,
                b.ais.3,
                b.raise.log_likelihood,
                b.raise.lower,
                b.raise.upper,
                b.raise.ess
            );
            gaps.push(gap);
        }
        assert!(
            gaps[0] > 0.3,
            "seed {seed}: the 100-temperature bracket {} is not open",
            gaps[0]
        );
        assert!(
            gaps[0] > gaps[1] && gaps[1] > gaps[2],
            "seed {seed}: gaps {gaps:?} do not fall"
        );
    }
}

/// `W = 0`, base biases equal to the model's: `T_k` draws from `p_0 = p` whatever `k`, every
/// increment is `sum_j [sp(beta_k b_j) - sp(beta_{k+1} b_j)]`, so every row's `ln Z_i` is the
/// exact `ln Z`, the interval has zero width and the ESS is the number of rows.
fn zero_weight_case<T: Float>() {
    let mut rbm = Rbm::<f64>::zeros(64, 12).unwrap();
    for (i, a) in rbm.a.iter_mut().enumerate() {
        *a = 2.0 * (0.37 * i as f64).sin() - 0.5;
    }
    for (j, b) in rbm.b.iter_mut().enumerate() {
        *b = 3.0 * (1.3 * j as f64).cos();
    }
    let rbm: Rbm<T> = rbm.cast();
    let base = AisBase::from_biases(rbm.a.iter().map(|x| x.as_f64()).collect()).unwrap();
    let want = exact::log_partition(&rbm).unwrap();
    let v = digits().head(40).to_mat::<T>();
    for chains in [1, 3] {
        let est = raise(BetaSchedule::Count(500), chains, 4)
            .estimate(&rbm, &base, v.as_ref())
            .unwrap();
        let z0 = est.log_z_rows[0];
        assert!(
            est.log_z_rows.iter().all(|&z| z == z0),
            "{}: rows differ",
            T::NAME
        );
        assert!(
            (z0 - want).abs() < 1e-9,
            "{}: {z0} vs exact {want}",
            T::NAME
        );
        let ll = exact::mean_log_likelihood(&rbm, v.as_ref()).unwrap();
        assert!((est.log_likelihood - ll).abs() < 1e-9);
        assert_eq!(
            (est.lower, est.upper),
            (est.log_likelihood, est.log_likelihood)
        );
        assert_eq!((est.ess, est.rows(), est.chains), (40.0, 40, chains));
    }
    // The closed form behind it: ln Z = sum sp(a) + sum sp(b).
    let closed: f64 = rbm
        .a
        .iter()
        .chain(&rbm.b)
        .map(|x| softplus(x.as_f64()))
        .sum();
    assert!((closed - want).abs() < 1e-9);
}

#[test]
fn zero_weights_with_matching_base_make_raise_exact() {
    zero_weight_case::<f64>();
    zero_weight_case::<f32>();
}

#[test]
fn more_chains_per_row_tighten_the_bound() {
    // log-mean-exp over C chains is a tighter stochastic bound: on a coarse schedule (where
    // the single-chain bound is loose) 8 chains per row give a higher mean and a smaller
    // spread of ln Z_i.
    let (train_set, v, base) = held_out(60);
    let rbm = train(&train_set, 16, Method::Cd { k: 1 }, 20);
    let exact = exact::mean_log_likelihood(&rbm, v.as_ref()).unwrap();
    let one = raise(BetaSchedule::Count(50), 1, 5)
        .estimate(&rbm, &base, v.as_ref())
        .unwrap();
    let eight = raise(BetaSchedule::Count(50), 8, 5)
        .estimate(&rbm, &base, v.as_ref())
        .unwrap();
    println!(
        "exact {exact:.3}, RAISE 1 chain {:.3} [{:.3}, {:.3}], 8 chains {:.3} [{:.3}, {:.3}]",
        one.log_likelihood, one.lower, one.upper, eight.log_likelihood, eight.lower, eight.upper
    );
    assert!(one.log_likelihood < eight.log_likelihood && eight.log_likelihood < exact);
    assert!(eight.upper - eight.lower < one.upper - one.lower);
    assert_eq!((eight.rows(), eight.chains), (60, 8));
}

fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn same_seed_gives_identical_estimates_at_one_and_two_threads() {
    // Short schedules: only bit-identity is checked here. The 784 x 300 model with one chunk
    // of 100 chains makes faer split the GEMMs across the two threads.
    let digits_case = {
        let (_, v, base) = held_out(100);
        let rbm = Rbm::<f64>::random(64, 20, 1.0, &mut rng::rng(7)).unwrap();
        (rbm, v, base, 300)
    };
    let big = {
        let mut rbm = Rbm::<f64>::random(784, 300, 0.05, &mut rng::rng(8)).unwrap();
        rbm.a.iter_mut().for_each(|a| *a = -2.0);
        let v = Mat::<f64>::from_fn(100, 784, |r, i| ((r * 7 + i * 3) % 5 == 0) as u8 as f64);
        (rbm, v, AisBase::from_biases(vec![-1.5; 784]).unwrap(), 30)
    };
    for (name, (rbm, v, base, n_betas)) in [("digits", &digits_case), ("784x300", &big)] {
        for (chunk_rows, chains) in [(100, 1), (50, 2), (30, 1)] {
            let cfg = RaiseConfig {
                schedule: BetaSchedule::Count(*n_betas),
                chains,
                chunk_rows,
                seed: 11,
            };
            let run64 = || {
                Raise::new(cfg.clone())
                    .unwrap()
                    .estimate(rbm, base, v.as_ref())
                    .unwrap()
            };
            let (rbm32, v32): (Rbm<f32>, Mat<f32>) = (rbm.cast(), v.as_ref().map(|x| *x as f32));
            let run32 = || {
                Raise::new(cfg.clone())
                    .unwrap()
                    .estimate(&rbm32, base, v32.as_ref())
                    .unwrap()
            };
            let what = format!("{name}, chunks of {chunk_rows}, {chains} chains");
            let (a1, a2) = (in_pool(1, run64), in_pool(2, run64));
            assert_eq!(a1, a2, "{what} f64: 1 vs 2 threads");
            let (b1, b2) = (in_pool(1, run32), in_pool(2, run32));
            assert_eq!(b1, b2, "{what} f32: 1 vs 2 threads");
            let other = Raise::new(RaiseConfig {
                seed: 12,
                ..cfg.clone()
            })
            .unwrap()
            .estimate(rbm, base, v.as_ref())
            .unwrap();
            assert_ne!(
                a1.log_z_rows, other.log_z_rows,
                "{what}: the seed is ignored"
            );
            assert!(a1.log_z_rows.iter().all(|z| z.is_finite()));
        }
    }
}

#[test]
fn bad_arguments_are_refused() {
    for bad in [
        RaiseConfig {
            chains: 0,
            ..Default::default()
        },
        RaiseConfig {
            chunk_rows: 0,
            ..Default::default()
        },
        RaiseConfig {
            schedule: BetaSchedule::Count(2),
            ..Default::default()
        },
        RaiseConfig {
            schedule: BetaSchedule::Explicit(vec![0.0, 0.9]),
            ..Default::default()
        },
    ] {
        let e = Raise::new(bad.clone()).unwrap_err();
        assert!(
            matches!(e, emf_rbm::Error::InvalidParameter { .. }),
            "{bad:?}: {e}"
        );
    }
    let rbm = Rbm::<f64>::zeros(5, 3).unwrap();
    let r = raise(BetaSchedule::Count(10), 1, 0);
    let base = AisBase::from_biases(vec![0.0; 5]).unwrap();
    let v = Mat::<f64>::zeros(4, 5);
    assert!(r
        .estimate(
            &rbm,
            &AisBase::from_biases(vec![0.0; 4]).unwrap(),
            v.as_ref()
        )
        .is_err());
    assert!(r
        .estimate(&rbm, &base, Mat::<f64>::zeros(4, 6).as_ref())
        .is_err());
    assert!(r
        .estimate(&rbm, &base, Mat::<f64>::zeros(0, 5).as_ref())
        .is_err());
    // One row: an estimate, with an infinite interval (no standard error).
    let one = r.estimate(&rbm, &base, v.subrows(0, 1)).unwrap();
    assert!(one.log_likelihood.is_finite());
    assert_eq!((one.lower, one.upper), (f64::NEG_INFINITY, f64::INFINITY));
    // The memory cap is checked before the chains are allocated.
    let huge = Raise::new(RaiseConfig {
        chains: usize::MAX / 2,
        ..Default::default()
    })
    .unwrap();
    assert!(huge.estimate(&rbm, &base, v.as_ref()).is_err());
}
