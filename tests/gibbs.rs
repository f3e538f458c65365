//! The block Gibbs sampler and CD-k against exact enumeration on 4-visible x 3-hidden RBMs:
//! the sampler's stationary distribution is the model's `p(v, h)` (chi-squared over all 128
//! joint states, with the power to reject a slightly wrong model), and CD-k's gradient, whose
//! expectation is computed exactly from the Gibbs transition matrix, has a bias that shrinks
//! with k and vanishes within the noise at k = 50.

use emf_rbm::estimate::exact;
use emf_rbm::faer::Mat;
use emf_rbm::ising::chi_squared;
use emf_rbm::train::{ContrastiveDivergence, NegativePhase, PositivePhase};
use emf_rbm::{rng, GibbsSampler, Gradient, Rbm};

const NV: usize = 4;
const NH: usize = 3;
const SV: usize = 1 << NV;
const SH: usize = 1 << NH;

/// Random couplings `N(0, sigma^2)` with fixed, non-trivial biases.
fn model(sigma: f64, seed: u64) -> Rbm<f64> {
    let mut rbm = Rbm::<f64>::random(NV, NH, sigma, &mut rng::rng(seed)).unwrap();
    for (i, a) in rbm.a.iter_mut().enumerate() {
        *a = 0.8 * (1.7 * i as f64 + 0.3).sin();
    }
    for (j, b) in rbm.b.iter_mut().enumerate() {
        *b = 0.6 * (0.9 * j as f64).cos() - 0.3;
    }
    rbm
}

/// Bit `i` of state `s` as a unit value.
fn bits(s: usize, n: usize) -> Vec<f64> {
    (0..n).map(|i| ((s >> i) & 1) as f64).collect()
}

/// The state index of a row of 0/1 values.
fn index(row: impl Iterator<Item = f64>) -> usize {
    row.enumerate()
        .map(|(i, x)| if x == 1.0 { 1 << i } else { 0 })
        .sum()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `prod_i p_i^x_i (1 - p_i)^(1 - x_i)`.
fn bernoulli(x: &[f64], p: &[f64]) -> f64 {
    x.iter()
        .zip(p)
        .map(|(&x, &p)| if x == 1.0 { p } else { 1.0 - p })
        .product()
}

/// `P(h_j = 1 | v)`, written out independently of the library.
fn p_h(rbm: &Rbm<f64>, v: &[f64]) -> Vec<f64> {
    (0..NH)
        .map(|j| sigmoid(rbm.b[j] + (0..NV).map(|i| v[i] * rbm.w[(i, j)]).sum::<f64>()))
        .collect()
}

/// `P(v_i = 1 | h)`.
fn p_v(rbm: &Rbm<f64>, h: &[f64]) -> Vec<f64> {
    (0..NV)
        .map(|i| sigmoid(rbm.a[i] + (0..NH).map(|j| h[j] * rbm.w[(i, j)]).sum::<f64>()))
        .collect()
}

/// Exact `p(v)` of the 16 visible states: `exp(-F(v) - ln Z)` with the library's free energy
/// and exact `ln Z`.
fn exact_p_v(rbm: &Rbm<f64>) -> Vec<f64> {
    let v = Mat::from_fn(SV, NV, |s, i| ((s >> i) & 1) as f64);
    let ln_z = exact::log_partition(rbm).unwrap();
    let p: Vec<f64> = rbm
        .free_energy(v.as_ref())
        .iter()
        .map(|f| (-f - ln_z).exp())
        .collect();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    p
}

/// Exact `p(v, h)` of the 128 joint states (index `v + 16 h`): `exp(-E(v, h) - ln Z)`.
fn exact_p_vh(rbm: &Rbm<f64>) -> Vec<f64> {
    let v = Mat::from_fn(SV * SH, NV, |s, i| (((s % SV) >> i) & 1) as f64);
    let h = Mat::from_fn(SV * SH, NH, |s, j| (((s / SV) >> j) & 1) as f64);
    let ln_z = exact::log_partition(rbm).unwrap();
    let p: Vec<f64> = rbm
        .energy(v.as_ref(), h.as_ref())
        .iter()
        .map(|e| (-e - ln_z).exp())
        .collect();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    p
}

type Matrix = Vec<Vec<f64>>;

/// One Gibbs step `v -> h -> v'` as a 16 x 16 matrix: `T[v][v'] = sum_h P(h|v) P(v'|h)`.
fn transition(rbm: &Rbm<f64>) -> Matrix {
    let mut t = vec![vec![0.0; SV]; SV];
    for (v, row) in t.iter_mut().enumerate() {
        let ph = p_h(rbm, &bits(v, NV));
        for h in 0..SH {
            let hb = bits(h, NH);
            let w = bernoulli(&hb, &ph);
            let pv = p_v(rbm, &hb);
            for (v2, x) in row.iter_mut().enumerate() {
                *x += w * bernoulli(&bits(v2, NV), &pv);
            }
        }
    }
    t
}

fn mat_mul(a: &Matrix, b: &Matrix) -> Matrix {
    let n = a.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (0..n).map(|k| a[i][k] * b[k][j]).sum())
                .collect()
        })
        .collect()
}

fn power(t: &Matrix, k: usize) -> Matrix {
    let n = t.len();
    let mut out: Matrix = (0..n)
        .map(|i| (0..n).map(|j| (i == j) as u8 as f64).collect())
        .collect();
    for _ in 0..k {
        out = mat_mul(&out, t);
    }
    out
}

/// Largest total-variation distance from `p` of the chain's state after the steps of `tk`,
/// over all starting states.
fn worst_distance(tk: &Matrix, p: &[f64]) -> f64 {
    tk.iter()
        .map(|row| 0.5 * row.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// Fewest Gibbs steps after which every starting state is within `tv` of `p`.
fn steps_to(t: &Matrix, p: &[f64], tv: f64) -> usize {
    let mut tk = t.clone();
    for k in 1..1000 {
        if worst_distance(&tk, p) < tv {
            return k;
        }
        tk = mat_mul(&tk, t);
    }
    panic!("the chain does not mix within 1000 steps");
}

/// Runs `chains` independent chains from uniform random starts for `burn` steps, then takes
/// `snapshots` states `thin` steps apart; returns the counts of the joint states `(v, h)`
/// (index `v + 16 h`; `h` is the hidden sample `v` was drawn from) and of `v` alone.
fn sample_counts(
    rbm: &Rbm<f64>,
    chains: usize,
    burn: usize,
    thin: usize,
    snapshots: usize,
    seed: u64,
) -> (Vec<u64>, Vec<u64>) {
    let mut r = rng::rng(seed);
    let mut sampler = GibbsSampler::new(rbm, chains);
    sampler.set_visible_sampled(Mat::from_fn(chains, NV, |_, _| 0.5).as_ref(), &mut r);
    sampler.run(rbm, burn, &mut r);
    let (mut joint, mut visible) = (vec![0u64; SV * SH], vec![0u64; SV]);
    for _ in 0..snapshots {
        sampler.run(rbm, thin, &mut r);
        let (v, h) = (sampler.visible(), sampler.hidden());
        for c in 0..chains {
            let sv = index((0..NV).map(|i| v[(c, i)]));
            let sh = index((0..NH).map(|j| h[(c, j)]));
            joint[sv + SV * sh] += 1;
            visible[sv] += 1;
        }
    }
    (joint, visible)
}

/// Chi-squared test of `GibbsSampler` against the exact distribution of a 4 x 3 RBM.
///
/// Samples: 20 000 independent chains from uniform random starts, burnt in until every start
/// is within 1e-6 in total variation of `p(v)` (from the exact transition matrix: the burn-in
/// bias of a bin is then below 1e-6 x 200 000 = 0.2 counts, far below its Poisson noise), then
/// 10 snapshots per chain, each after enough steps that any start is within 0.01 of `p(v)`:
/// consecutive snapshots of a chain are correlated by less than 0.01, which inflates the
/// statistic by a factor below 1 + 2 x 0.01. Bins with an expected count below 5 are pooled
/// (by `chi_squared`). Under the hypothesis the Wilson-Hilferty z is about N(0, 1); the
/// threshold z < 4 fails by chance with probability ~3e-5.
///
/// Power: the same samples against a model whose first visible bias is off by 0.1 must be
/// rejected (z > 4). Such a model's p(v) differs by ~10 % on half the states; the expected
/// statistic is then dof + N sum (p - p')^2 / p' (printed as the non-centrality), well past
/// the threshold. Measured (seed 7): z = -0.1 on the joint states (114 dof) and 1.2 on p(v)
/// (15 dof); against the wrong model 8.5 and 11.3. An error of 0.05 in the bias gives z = 3.2
/// on the joint states: 200 000 samples are about the least that resolve it.
#[test]
fn gibbs_sampler_draws_the_exact_joint_distribution() {
    let rbm = model(1.5, 1);
    let (p, p_joint) = (exact_p_v(&rbm), exact_p_vh(&rbm));
    let t = transition(&rbm);
    for row in &t {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    // p is the stationary distribution of the exact transition matrix.
    for v2 in 0..SV {
        let pt: f64 = (0..SV).map(|v| p[v] * t[v][v2]).sum();
        assert!((pt - p[v2]).abs() < 1e-12, "p T != p at {v2}");
    }
    let burn = steps_to(&t, &p, 1e-6);
    let thin = steps_to(&t, &p, 0.01);
    let (chains, snapshots) = (20_000, 10);
    let (joint, visible) = sample_counts(&rbm, chains, burn, thin, snapshots, 7);
    let tj = chi_squared(&joint, &p_joint);
    let tv = chi_squared(&visible, &p);
    let mut wrong = rbm.clone();
    wrong.a[0] += 0.1;
    let (pw_joint, pw) = (exact_p_vh(&wrong), exact_p_v(&wrong));
    let wj = chi_squared(&joint, &pw_joint);
    let wv = chi_squared(&visible, &pw);
    let n = (chains * snapshots) as f64;
    let noncentral = |p: &[f64], q: &[f64]| {
        n * p
            .iter()
            .zip(q)
            .map(|(a, b)| (a - b).powi(2) / b)
            .sum::<f64>()
    };
    eprintln!(
        "burn-in {burn} steps, thinning {thin}; {} samples; p(v) in [{:.4}, {:.4}]\n\
         joint (v, h): chi2 {:.1} on {} dof, z {:.2}; v alone: chi2 {:.1} on {} dof, z {:.2}\n\
         model with a_0 + 0.1: joint z {:.1} (non-centrality {:.0}), v alone z {:.1} ({:.0})",
        chains * snapshots,
        p.iter().cloned().fold(1.0, f64::min),
        p.iter().cloned().fold(0.0, f64::max),
        tj.statistic,
        tj.dof,
        tj.z,
        tv.statistic,
        tv.dof,
        tv.z,
        wj.z,
        noncentral(&p_joint, &pw_joint),
        wv.z,
        noncentral(&p, &pw)
    );
    assert!(tj.dof >= 50, "most joint states are tested: {} dof", tj.dof);
    assert!(tj.z < 4.0, "joint (v, h): z = {}", tj.z);
    assert!(tv.z < 4.0, "p(v): z = {}", tv.z);
    assert!(
        wj.z > 4.0,
        "a wrong joint distribution passed: z = {}",
        wj.z
    );
    assert!(wv.z > 4.0, "a wrong p(v) passed: z = {}", wv.z);
}

/// Sufficient statistics of the model side, `[v_i P(h_j|v) (i-major), v_i, P(h_j|v)]`, of
/// one visible state.
fn statistics(rbm: &Rbm<f64>, v: &[f64]) -> Vec<f64> {
    let ph = p_h(rbm, v);
    let mut s = Vec::with_capacity(NV * NH + NV + NH);
    for &vi in v {
        for &pj in &ph {
            s.push(vi * pj);
        }
    }
    s.extend_from_slice(v);
    s.extend_from_slice(&ph);
    s
}

/// `sum_v weight(v) statistics(v)`.
fn expected_statistics(rbm: &Rbm<f64>, weight: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; NV * NH + NV + NH];
    for (v, &w) in weight.iter().enumerate() {
        for (o, s) in out.iter_mut().zip(statistics(rbm, &bits(v, NV))) {
            *o += w * s;
        }
    }
    out
}

fn flatten(g: &Gradient<f64>) -> Vec<f64> {
    let mut out = Vec::with_capacity(NV * NH + NV + NH);
    for i in 0..NV {
        for j in 0..NH {
            out.push(g.w[(i, j)]);
        }
    }
    out.extend_from_slice(&g.a);
    out.extend_from_slice(&g.b);
    out
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// CD-k (the library's negative phase, through `NegativePhase`) against the exact gradient
/// of the mean log-likelihood of a fixed data set, `<stats>_data - <stats>_model`.
///
/// The exact expectation of the CD-k estimate is `<stats>_data - sum_v0 q(v0) sum_v
/// T^k(v0, v) stats(v)` with `T` the exact Gibbs transition matrix and `q` the data's
/// distribution; its bias is the exact gradient's difference from it. The estimate is
/// averaged over 40 repetitions of 5000 chains (the data rows), and each of the 19
/// components gets the standard error of that mean from the spread of the repetitions.
///
/// * every k: the sampled mean equals the exact CD-k expectation within 4.5 standard errors
///   in every component (19 components: a chance failure has probability ~1e-4);
/// * the exact bias shrinks, |bias(1)| > |bias(5)| > |bias(50)|, and the measured bias
///   (sampled mean - exact gradient) is resolved at k = 1 and 5 (its norm above 5 times the
///   norm of the standard errors) and shrinks too;
/// * at k = 50 the sampled mean equals the exact gradient within 4.5 standard errors in every
///   component.
///
/// Measured (model sigma 2, seed 3): |exact bias| 0.499 (k = 1), 0.228 (k = 5), 3e-5
/// (k = 50; every start is then within 3.3e-5 of p(v) in total variation), against a norm of
/// the standard errors of 0.0025-0.0035; the sampled means are within 2.5 standard errors of
/// the exact CD-k expectations, and CD-50 within 2.4 of the exact gradient.
///
/// Both entry points are checked: from the batch alone (`subtract_model_statistics`) and from
/// the positive phase's `P(h|v)` (`weight_gradient_from`, what the trainer calls: it also
/// computes the data term of the weight gradient, fused with the chains' in one GEMM).
#[test]
fn cd_k_gradient_approaches_the_exact_gradient_as_k_grows() {
    let rbm = model(2.0, 3);
    let p = exact_p_v(&rbm);
    let t = transition(&rbm);
    // The data: three patterns in the proportions 3 : 2 : 1, far from the model.
    let patterns = [(0b0011, 3), (0b1100, 2), (0b1011, 1)];
    let rows: Vec<usize> = (0..5000)
        .map(|r| {
            let mut k = r % 6;
            for &(s, n) in &patterns {
                if k < n {
                    return s;
                }
                k -= n;
            }
            unreachable!()
        })
        .collect();
    let mut q = vec![0.0; SV];
    for &s in &rows {
        q[s] += 1.0 / rows.len() as f64;
    }
    let batch = Mat::from_fn(rows.len(), NV, |r, i| ((rows[r] >> i) & 1) as f64);
    let batch_hidden = rbm.hidden_probs(batch.as_ref());
    let batch_field = &batch * &rbm.w;
    let positive = expected_statistics(&rbm, &q);
    let model_side = expected_statistics(&rbm, &p);
    let exact: Vec<f64> = positive
        .iter()
        .zip(&model_side)
        .map(|(a, b)| a - b)
        .collect();
    let positive_gradient = || {
        let mut g = Gradient::<f64>::zeros(NV, NH);
        for i in 0..NV {
            for j in 0..NH {
                g.w[(i, j)] = positive[i * NH + j];
            }
        }
        g.a.copy_from_slice(&positive[NV * NH..NV * NH + NV]);
        g.b.copy_from_slice(&positive[NV * NH + NV..]);
        g
    };
    let reps = 40;
    let mut exact_bias = Vec::new();
    let mut measured_bias = Vec::new();
    for k in [1usize, 5, 50] {
        let tk = power(&t, k);
        let after_k: Vec<f64> = (0..SV)
            .map(|v| (0..SV).map(|v0| q[v0] * tk[v0][v]).sum())
            .collect();
        let expected: Vec<f64> = positive
            .iter()
            .zip(expected_statistics(&rbm, &after_k))
            .map(|(a, b)| a - b)
            .collect();
        let bias: Vec<f64> = expected.iter().zip(&exact).map(|(a, b)| a - b).collect();
        for from_hidden in [false, true] {
            let mut phase = ContrastiveDivergence::<f64>::new(k, NV, NH);
            let estimates: Vec<Vec<f64>> = (0..reps)
                .map(|r| {
                    let mut g = positive_gradient();
                    let mut rr = rng::rng(1000 * k as u64 + r + 500 * from_hidden as u64);
                    if from_hidden {
                        let positive = PositivePhase {
                            batch: batch.as_ref(),
                            hidden_field: batch_field.as_ref(),
                            hidden_probs: batch_hidden.as_ref(),
                            sparse: None,
                        };
                        phase.weight_gradient_from(&rbm, positive, &mut g, &mut rr)
                    } else {
                        phase.subtract_model_statistics(&rbm, batch.as_ref(), &mut g, &mut rr)
                    }
                    .unwrap();
                    flatten(&g)
                })
                .collect();
            let n = reps as f64;
            let mean: Vec<f64> = (0..exact.len())
                .map(|c| estimates.iter().map(|e| e[c]).sum::<f64>() / n)
                .collect();
            let se: Vec<f64> = (0..exact.len())
                .map(|c| {
                    let var = estimates
                        .iter()
                        .map(|e| (e[c] - mean[c]).powi(2))
                        .sum::<f64>()
                        / (n - 1.0);
                    (var / n).sqrt()
                })
                .collect();
            let z = |target: &[f64]| {
                (0..exact.len())
                    .map(|c| (mean[c] - target[c]).abs() / se[c])
                    .fold(0.0, f64::max)
            };
            let measured: Vec<f64> = mean.iter().zip(&exact).map(|(a, b)| a - b).collect();
            eprintln!(
                "CD-{k}{}: |exact bias| {:.5}, |measured bias| {:.5}, |se| {:.5}; \
                 max |z| vs the exact CD-{k} expectation {:.2}, vs the exact gradient {:.1}; \
                 worst start after {k} steps {:.1e} from p(v)",
                if from_hidden { " (from P(h|v))" } else { "" },
                norm(&bias),
                norm(&measured),
                norm(&se),
                z(&expected),
                z(&exact),
                worst_distance(&tk, &p)
            );
            assert!(
                z(&expected) < 4.5,
                "CD-{k}: the estimate is not the exact CD-{k} expectation (max |z| {})",
                z(&expected)
            );
            if k == 50 {
                assert!(
                    z(&exact) < 4.5,
                    "CD-50 not within noise of the exact gradient (max |z| {})",
                    z(&exact)
                );
            } else {
                assert!(
                    norm(&measured) > 5.0 * norm(&se),
                    "CD-{k}: bias {} not resolved above the noise {}",
                    norm(&measured),
                    norm(&se)
                );
            }
            if !from_hidden {
                measured_bias.push(norm(&measured));
            }
        }
        exact_bias.push(norm(&bias));
    }
    assert!(
        exact_bias[0] > exact_bias[1] && exact_bias[1] > exact_bias[2],
        "{exact_bias:?}"
    );
    assert!(
        measured_bias[0] > measured_bias[1] && measured_bias[1] > measured_bias[2],
        "{measured_bias:?}"
    );
}
