//! Parameter updates: what the training loop does with a gradient estimate, as a small
//! strategy ([`Optimizer`]). [`Sgd`] (momentum, L1/L2 penalties on `W`) is the one the
//! configuration selects today ([`OptimizerKind::Sgd`]); a custom optimiser plugs in with
//! [`Trainer::with_optimizer`](crate::train::Trainer::with_optimizer).
//!
//! ```
//! use emf_rbm::{Gradient, Rbm};
//! use emf_rbm::train::{Optimizer, Sgd};
//!
//! let mut rbm = Rbm::<f64>::zeros(2, 1).unwrap();
//! rbm.w[(0, 0)] = 0.5;
//! let mut grad = Gradient::<f64>::zeros(2, 1);
//! grad.w[(0, 0)] = 1.0;
//! let mut sgd = Sgd::<f64>::new(0.5, 0.1, 0.2, 2, 1).unwrap();
//! sgd.step(&mut rbm, &grad, 0.1);
//! // velocity = 0.1 (1 - 0.2 * 0.5 - 0.1 * sign(0.5)) = 0.08; w = 0.5 + 0.08
//! assert!((rbm.w[(0, 0)] - 0.58).abs() < 1e-15);
//! sgd.step(&mut rbm, &grad, 0.1);
//! // velocity = 0.5 * 0.08 + 0.1 (1 - 0.2 * 0.58 - 0.1) = 0.1184
//! assert!((rbm.w[(0, 0)] - (0.58 + 0.1184)).abs() < 1e-15);
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use faer::reborrow::*;
use faer::{MatMut, MatRef};
use rayon::prelude::*;

use crate::linalg::column_tasks;
use crate::linalg::kernels::{self, MomentumStepStats};
use crate::rbm::{Gradient, Rbm};
use crate::train::state::{find, StateArray};

/// A parameter-update rule. `grad` is an estimate of the log-likelihood gradient (an ascent
/// direction: the positive phase minus the model statistics); `step` moves the parameters
/// along it at learning rate `lr` and reports what the trainer's divergence checks need.
/// Implementations keep their state (velocities, moments) between calls and must not
/// allocate per call; one that has no cheaper way returns [`StepStats::measure`].
pub trait Optimizer<T: Float>: Send {
    /// A short name (`sgd`).
    fn name(&self) -> &'static str;

    /// One update of `rbm` from `grad` at learning rate `lr`.
    fn step(&mut self, rbm: &mut Rbm<T>, grad: &Gradient<T>, lr: f64) -> StepStats;

    /// What the optimiser carries from one step to the next (velocities, moments), saved in
    /// checkpoints; `None` (the default) for a stateless rule. An optimiser with state must
    /// implement this and [`restore`](Self::restore) for a resumed run to continue exactly.
    fn state(&self) -> Option<Vec<StateArray>> {
        None
    }

    /// Restores what [`state`](Self::state) returned. The default accepts only `None`.
    fn restore(&mut self, state: Option<&[StateArray]>) -> Result<()> {
        match state {
            None => Ok(()),
            Some(_) => Err(Error::param(
                "resume",
                format!(
                    "the checkpoint holds an optimiser state that {} cannot restore",
                    self.name()
                ),
            )),
        }
    }
}

/// What the trainer checks after every update (gathered by the optimiser in its own pass over
/// the parameters, so checking costs no extra pass).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// The largest absolute parameter (weights and biases) after the step; NaN when one is
    /// NaN or infinite.
    pub max_abs: f64,
    /// Every entry of the gradient was finite.
    pub gradient_finite: bool,
}

impl StepStats {
    /// The statistics measured by separate passes over `rbm` (after the step) and `grad`.
    pub fn measure<T: Float>(rbm: &Rbm<T>, grad: &Gradient<T>) -> Self {
        let max_abs = rbm.max_abs();
        StepStats {
            max_abs: if max_abs.is_finite() {
                max_abs
            } else {
                f64::NAN
            },
            gradient_finite: grad.is_finite(),
        }
    }
}

/// The optimiser a [`TrainConfig`](crate::train::TrainConfig) selects (serialisable). Its
/// hyper-parameters are the configuration's `momentum`, `l1` and `l2`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Stochastic gradient ascent with momentum and L1/L2 penalties on `W` ([`Sgd`]).
    #[default]
    Sgd,
}

impl OptimizerKind {
    /// The optimiser for a model of `n_visible x n_hidden` units.
    pub fn build<T: Float>(
        self,
        momentum: f64,
        l1: f64,
        l2: f64,
        n_visible: usize,
        n_hidden: usize,
    ) -> Result<Box<dyn Optimizer<T>>> {
        match self {
            OptimizerKind::Sgd => Ok(Box::new(Sgd::new(momentum, l1, l2, n_visible, n_hidden)?)),
        }
    }
}

/// Momentum SGD with L1/L2 penalties on the weights (biases are not penalised):
///
/// ```text
/// vel_W <- momentum vel_W + lr (grad_W - l2 W - l1 sign(W)),   W <- W + vel_W
/// vel_a <- momentum vel_a + lr grad_a,                         a <- a + vel_a   (b likewise)
/// ```
///
/// computed in the model's float type `T` (`sign(0) = 0`).
#[derive(Clone, Debug)]
pub struct Sgd<T: Float = f64> {
    momentum: T,
    l1: T,
    l2: T,
    velocity: Gradient<T>,
}

impl<T: Float> Sgd<T> {
    /// Momentum in `[0, 1)`, finite penalties `l1, l2 >= 0`, zero initial velocity.
    pub fn new(momentum: f64, l1: f64, l2: f64, n_visible: usize, n_hidden: usize) -> Result<Self> {
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::param(
                "momentum",
                format!("must be in [0, 1), got {momentum}"),
            ));
        }
        for (name, x) in [("l1", l1), ("l2", l2)] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(Error::param(
                    name,
                    format!("must be finite and >= 0, got {x}"),
                ));
            }
        }
        Ok(Sgd {
            momentum: T::of(momentum),
            l1: T::of(l1),
            l2: T::of(l2),
            velocity: Gradient::zeros(n_visible, n_hidden),
        })
    }

    /// The current velocity (the last update applied).
    pub fn velocity(&self) -> &Gradient<T> {
        &self.velocity
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn name(&self) -> &'static str {
        "sgd"
    }

    /// The velocity of `W`, `a` and `b`.
    fn state(&self) -> Option<Vec<StateArray>> {
        let v = &self.velocity;
        Some(vec![
            StateArray::from_mat("velocity_w", v.w.as_ref()),
            StateArray::from_slice("velocity_a", &v.a),
            StateArray::from_slice("velocity_b", &v.b),
        ])
    }

    fn restore(&mut self, state: Option<&[StateArray]>) -> Result<()> {
        let (nv, nh) = (self.velocity.a.len(), self.velocity.b.len());
        let Some(arrays) = state else {
            self.velocity = Gradient::zeros(nv, nh);
            return Ok(());
        };
        self.velocity.w = find(arrays, "velocity_w")?.to_mat(nv, nh)?;
        self.velocity.a = find(arrays, "velocity_a")?.to_vec(nv)?;
        self.velocity.b = find(arrays, "velocity_b")?.to_vec(nh)?;
        Ok(())
    }

    fn step(&mut self, rbm: &mut Rbm<T>, grad: &Gradient<T>, lr: f64) -> StepStats {
        let _timer = crate::profile::Timer::new(crate::profile::Section::Step);
        let (mom, lr_t, l1, l2) = (self.momentum, T::of(lr), self.l1, self.l2);
        let vel = &mut self.velocity;
        let step = |w: MatMut<'_, T>, vel: MatMut<'_, T>, g: MatRef<'_, T>| {
            let mut stats = no_stats();
            let (mut w, mut vel) = (w, vel);
            for j in 0..w.ncols() {
                let s = kernels::momentum_step(
                    w.rb_mut()
                        .col_mut(j)
                        .try_as_col_major_mut()
                        .expect("contiguous")
                        .as_slice_mut(),
                    vel.rb_mut()
                        .col_mut(j)
                        .try_as_col_major_mut()
                        .expect("contiguous")
                        .as_slice_mut(),
                    g.col(j).try_as_col_major().expect("contiguous").as_slice(),
                    mom,
                    lr_t,
                    l1,
                    l2,
                );
                stats = merge(stats, s);
            }
            stats
        };
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let s = match column_tasks(nv, nh) {
            Some(c) => rbm
                .w
                .as_mut()
                .par_col_chunks_mut(c)
                .zip(vel.w.as_mut().par_col_chunks_mut(c))
                .zip(grad.w.as_ref().par_col_chunks(c))
                .map(|((w, v), g)| step(w, v, g))
                .reduce(no_stats, merge),
            None => step(rbm.w.as_mut(), vel.w.as_mut(), grad.w.as_ref()),
        };
        let mut max_abs = s.max_abs;
        let mut finite = !s.non_finite_weight;
        let mut gradient_finite = !s.non_finite_gradient;
        let biases = [
            (&mut rbm.a, &mut vel.a, &grad.a),
            (&mut rbm.b, &mut vel.b, &grad.b),
        ];
        for (params, velocity, g) in biases {
            for ((p, v), &g) in params.iter_mut().zip(velocity.iter_mut()).zip(g) {
                *v = mom * *v + lr_t * g;
                *p += *v;
                max_abs = max_abs.max(p.as_f64().abs());
                finite &= p.is_finite();
                gradient_finite &= g.is_finite();
            }
        }
        StepStats {
            max_abs: if finite { max_abs } else { f64::NAN },
            gradient_finite,
        }
    }
}

/// The statistics of a step over no weights.
fn no_stats() -> MomentumStepStats {
    MomentumStepStats {
        max_abs: 0.0,
        non_finite_weight: false,
        non_finite_gradient: false,
    }
}

/// The statistics of two parts of a step (order-independent, so any split gives the same).
fn merge(a: MomentumStepStats, b: MomentumStepStats) -> MomentumStepStats {
    MomentumStepStats {
        max_abs: a.max_abs.max(b.max_abs),
        non_finite_weight: a.non_finite_weight || b.non_finite_weight,
        non_finite_gradient: a.non_finite_gradient || b.non_finite_gradient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps of the update on every kind of parameter, against the formula written out.
    #[test]
    fn sgd_step_matches_the_hand_computed_momentum_l1_l2_update() {
        let (mom, l1, l2, lr) = (0.7, 0.05, 0.2, 0.3);
        let mut rbm = Rbm::<f64>::zeros(2, 2).unwrap();
        let w0 = [[0.4, -0.3], [0.0, 1.5]];
        for i in 0..2 {
            for j in 0..2 {
                rbm.w[(i, j)] = w0[i][j];
            }
        }
        rbm.a = vec![0.1, -0.2];
        rbm.b = vec![0.3, 0.0];
        let mut grad = Gradient::<f64>::zeros(2, 2);
        let g = [[1.0, -2.0], [0.5, 0.25]];
        for i in 0..2 {
            for j in 0..2 {
                grad.w[(i, j)] = g[i][j];
            }
        }
        grad.a = vec![0.6, -0.4];
        grad.b = vec![-1.0, 2.0];
        let mut sgd = Sgd::<f64>::new(mom, l1, l2, 2, 2).unwrap();
        let sign = |x: f64| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        };
        let mut w = w0;
        let mut vw = [[0.0; 2]; 2];
        let (mut a, mut va) = ([0.1, -0.2], [0.0; 2]);
        let (mut b, mut vb) = ([0.3, 0.0], [0.0; 2]);
        for _ in 0..2 {
            sgd.step(&mut rbm, &grad, lr);
            for i in 0..2 {
                for j in 0..2 {
                    vw[i][j] = mom * vw[i][j] + lr * (g[i][j] - l2 * w[i][j] - l1 * sign(w[i][j]));
                    w[i][j] += vw[i][j];
                    assert!((rbm.w[(i, j)] - w[i][j]).abs() < 1e-15, "W[{i},{j}]");
                    assert!((sgd.velocity().w[(i, j)] - vw[i][j]).abs() < 1e-15);
                }
                va[i] = mom * va[i] + lr * grad.a[i];
                a[i] += va[i];
                vb[i] = mom * vb[i] + lr * grad.b[i];
                b[i] += vb[i];
                assert!((rbm.a[i] - a[i]).abs() < 1e-15, "a[{i}]");
                assert!((rbm.b[i] - b[i]).abs() < 1e-15, "b[{i}]");
            }
        }
        // The zero weight got no L1 push in the first step (sign 0), only in the second.
        let first = lr * (g[1][0] - 0.0);
        assert!((w[1][0] - (first + mom * first + lr * (g[1][0] - l2 * first - l1))).abs() < 1e-15);
    }

    #[test]
    fn sgd_refuses_bad_hyper_parameters() {
        for (m, l1, l2, name) in [
            (1.0, 0.0, 0.0, "momentum"),
            (-0.1, 0.0, 0.0, "momentum"),
            (0.5, -1.0, 0.0, "l1"),
            (0.5, 0.0, f64::NAN, "l2"),
        ] {
            match Sgd::<f32>::new(m, l1, l2, 3, 2) {
                Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
                other => panic!("expected an error on {name}, got {other:?}"),
            }
        }
    }
}
