//! The Bernoulli-Bernoulli Restricted Boltzmann Machine.
//!
//! Energy `E(v, h) = -a.v - b.h - v^T W h` with `W` of shape `n_visible x n_hidden`. Batches hold
//! one configuration per ROW, so the hidden field of a batch `V` is `V W + b` and the visible
//! field of `H` is `H W^T + a`. Sums that leave the model's float type (energies, free
//! energies) are accumulated in `f64`.

use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::column_tasks;
use crate::linalg::sparse::{DenseRows, SparseRows};
use crate::linalg::{kernels, matmul};
use crate::profile::{self, Section};
use crate::rng::Rng;
use rayon::prelude::*;

pub use crate::gibbs::GibbsSampler;

/// A Restricted Boltzmann Machine with binary visible and hidden units.
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// let rbm = Rbm::<f64>::zeros(3, 2).unwrap();
/// // With W = 0 and zero biases every hidden unit contributes ln 2 to -F(v).
/// let v = Mat::<f64>::zeros(1, 3);
/// let f = rbm.free_energy(v.as_ref());
/// assert!((f[0] + 2.0 * 2f64.ln()).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Rbm<T: Float = f64> {
    /// Couplings, `n_visible x n_hidden`.
    pub w: Mat<T>,
    /// Visible biases (length `n_visible`).
    pub a: Vec<T>,
    /// Hidden biases (length `n_hidden`).
    pub b: Vec<T>,
}

impl<T: Float> Rbm<T> {
    /// A model with all parameters zero.
    pub fn zeros(n_visible: usize, n_hidden: usize) -> Result<Self> {
        if n_visible == 0 || n_hidden == 0 {
            return Err(Error::param(
                "n_hidden",
                format!("an RBM needs at least one unit per layer (got {n_visible} x {n_hidden})"),
            ));
        }
        Ok(Rbm {
            w: Mat::zeros(n_visible, n_hidden),
            a: vec![T::of(0.0); n_visible],
            b: vec![T::of(0.0); n_hidden],
        })
    }

    /// A model from its parameters; checks that the shapes fit and the values are finite.
    pub fn from_parts(w: Mat<T>, a: Vec<T>, b: Vec<T>) -> Result<Self> {
        if w.nrows() != a.len() || w.ncols() != b.len() {
            return Err(Error::Shape(format!(
                "W is {} x {} but a has {} and b has {} entries",
                w.nrows(),
                w.ncols(),
                a.len(),
                b.len()
            )));
        }
        if w.nrows() == 0 || w.ncols() == 0 {
            return Err(Error::Shape(
                "an RBM needs at least one unit per layer".into(),
            ));
        }
        let rbm = Rbm { w, a, b };
        if !rbm.is_finite() {
            return Err(Error::param("parameters", "W, a and b must be finite"));
        }
        Ok(rbm)
    }

    /// `W ~ N(0, sigma^2)`, `a = b = 0`.
    pub fn random(n_visible: usize, n_hidden: usize, sigma: f64, rng: &mut Rng) -> Result<Self> {
        let mut rbm = Self::zeros(n_visible, n_hidden)?;
        if !(sigma >= 0.0 && sigma.is_finite()) {
            return Err(Error::param(
                "sigma",
                format!("must be finite and >= 0, got {sigma}"),
            ));
        }
        let normal = Normal::new(0.0, sigma).map_err(|e| Error::param("sigma", e.to_string()))?;
        for j in 0..n_hidden {
            for i in 0..n_visible {
                rbm.w[(i, j)] = T::of(normal.sample(rng));
            }
        }
        Ok(rbm)
    }

    /// Hinton's initialisation (practical guide, section 8): `W ~ N(0, sigma^2)`,
    /// `a_i = ln(p_i / (1 - p_i))` from the data's pixel means `p` clipped to `[clip, 1 - clip]`,
    /// `b = 0`.
    pub fn init_from_means(
        means: &[f64],
        n_hidden: usize,
        sigma: f64,
        clip: f64,
        rng: &mut Rng,
    ) -> Result<Self> {
        if !(clip > 0.0 && clip < 0.5) {
            return Err(Error::param(
                "clip",
                format!("must be in (0, 0.5), got {clip}"),
            ));
        }
        let mut rbm = Self::random(means.len(), n_hidden, sigma, rng)?;
        for (ai, &p) in rbm.a.iter_mut().zip(means) {
            let p = p.clamp(clip, 1.0 - clip);
            *ai = T::of((p / (1.0 - p)).ln());
        }
        Ok(rbm)
    }

    /// Number of visible units.
    pub fn n_visible(&self) -> usize {
        self.w.nrows()
    }

    /// Number of hidden units.
    pub fn n_hidden(&self) -> usize {
        self.w.ncols()
    }

    /// Number of parameters (`nv nh + nv + nh`).
    pub fn n_parameters(&self) -> usize {
        self.n_visible() * self.n_hidden() + self.n_visible() + self.n_hidden()
    }

    /// True when every parameter is finite.
    pub fn is_finite(&self) -> bool {
        self.a.iter().chain(&self.b).all(|x| x.is_finite())
            && (0..self.w.ncols()).all(|j| self.w.col(j).iter().all(|x| x.is_finite()))
    }

    /// The largest absolute parameter (weights and biases); NaN when any parameter is NaN.
    pub fn max_abs(&self) -> f64 {
        let mut m = 0.0f64;
        let mut nan = false;
        let mut see = |x: f64| {
            nan |= x.is_nan();
            m = m.max(x.abs());
        };
        self.a.iter().chain(&self.b).for_each(|x| see(x.as_f64()));
        for j in 0..self.w.ncols() {
            self.w.col(j).iter().for_each(|x| see(x.as_f64()));
        }
        if nan {
            f64::NAN
        } else {
            m
        }
    }

    /// The same machine seen from the other side: `W^T`, visible and hidden biases swapped.
    /// Its visible free energy is this model's hidden-side free energy.
    pub fn transpose(&self) -> Rbm<T> {
        Rbm {
            w: self.w.transpose().to_owned(),
            a: self.b.clone(),
            b: self.a.clone(),
        }
    }

    /// The model converted to another float type.
    pub fn cast<U: Float>(&self) -> Rbm<U> {
        Rbm {
            w: Mat::from_fn(self.n_visible(), self.n_hidden(), |i, j| {
                U::of(self.w[(i, j)].as_f64())
            }),
            a: self.a.iter().map(|x| U::of(x.as_f64())).collect(),
            b: self.b.iter().map(|x| U::of(x.as_f64())).collect(),
        }
    }

    /// `out <- V W + b` (hidden pre-activations of a batch, one sample per row).
    pub fn hidden_field_into(&self, v: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        matmul(out.rb_mut(), Accum::Replace, v, self.w.as_ref(), T::of(1.0));
        add_col_bias(out, &self.b);
    }

    /// `out <- H W^T + a` (visible pre-activations).
    pub fn visible_field_into(&self, h: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        matmul(
            out.rb_mut(),
            Accum::Replace,
            h,
            self.w.transpose(),
            T::of(1.0),
        );
        add_col_bias(out, &self.a);
    }

    /// `out <- P(h = 1 | v) = sigmoid(V W + b)`.
    pub fn hidden_probs_into(&self, v: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        matmul(out.rb_mut(), Accum::Replace, v, self.w.as_ref(), T::of(1.0));
        sigmoid_col_bias(out, &self.b);
    }

    /// `field <- V W` (the hidden fields without the bias) and
    /// `probs <- P(h = 1 | v) = sigmoid(field + b)`, one GEMM for both (both buffers are
    /// `rows(v) x n_hidden`, column-major).
    pub fn hidden_field_and_probs_into(
        &self,
        v: MatRef<'_, T>,
        mut field: MatMut<'_, T>,
        mut probs: MatMut<'_, T>,
    ) {
        matmul(
            field.rb_mut(),
            Accum::Replace,
            v,
            self.w.as_ref(),
            T::of(1.0),
        );
        sigmoid_col_bias_from(field.rb(), &self.b, probs.rb_mut());
    }

    /// [`hidden_field_and_probs_into`](Self::hidden_field_and_probs_into) for sparse rows:
    /// `field <- S W` by the sparse product ([`crate::linalg::sparse`]) from `w_rows`, which
    /// must hold this model's current `W`.
    pub fn hidden_field_and_probs_sparse(
        &self,
        rows: &SparseRows<T>,
        w_rows: &DenseRows<T>,
        mut field: MatMut<'_, T>,
        mut probs: MatMut<'_, T>,
    ) {
        profile::timed(Section::Sparse, || rows.times_into(field.rb_mut(), w_rows));
        sigmoid_col_bias_from(field.rb(), &self.b, probs.rb_mut());
    }

    /// `out <- P(v = 1 | h) = sigmoid(H W^T + a)`.
    pub fn visible_probs_into(&self, h: MatRef<'_, T>, mut out: MatMut<'_, T>) {
        matmul(
            out.rb_mut(),
            Accum::Replace,
            h,
            self.w.transpose(),
            T::of(1.0),
        );
        sigmoid_col_bias(out, &self.a);
    }

    /// `P(h = 1 | v)` for a batch (allocating).
    pub fn hidden_probs(&self, v: MatRef<'_, T>) -> Mat<T> {
        let mut out = Mat::zeros(v.nrows(), self.n_hidden());
        self.hidden_probs_into(v, out.as_mut());
        out
    }

    /// `P(v = 1 | h)` for a batch (allocating).
    pub fn visible_probs(&self, h: MatRef<'_, T>) -> Mat<T> {
        let mut out = Mat::zeros(h.nrows(), self.n_visible());
        self.visible_probs_into(h, out.as_mut());
        out
    }

    /// Energy `E(v, h)` of each row pair.
    pub fn energy(&self, v: MatRef<'_, T>, h: MatRef<'_, T>) -> Vec<f64> {
        let mut vw = Mat::zeros(v.nrows(), self.n_hidden());
        matmul(vw.as_mut(), Accum::Replace, v, self.w.as_ref(), T::of(1.0));
        (0..v.nrows())
            .map(|r| {
                let mut e = 0.0;
                for i in 0..self.n_visible() {
                    e -= self.a[i].as_f64() * v[(r, i)].as_f64();
                }
                for j in 0..self.n_hidden() {
                    e -= (self.b[j].as_f64() + vw[(r, j)].as_f64()) * h[(r, j)].as_f64();
                }
                e
            })
            .collect()
    }

    /// Visible free energy `F(v) = -a.v - sum_j softplus(b_j + (W^T v)_j)` of each row: the
    /// effective (renormalized) visible Hamiltonian, `p(v) = exp(-F(v)) / Z`.
    pub fn free_energy(&self, v: MatRef<'_, T>) -> Vec<f64> {
        free_energy_side(v, self.w.as_ref(), &self.a, &self.b)
    }

    /// Hidden-side free energy `F_hid(h) = -b.h - sum_i softplus(a_i + (W h)_i)` of each row.
    pub fn free_energy_hidden(&self, h: MatRef<'_, T>) -> Vec<f64> {
        free_energy_side(h, self.w.transpose(), &self.b, &self.a)
    }
}

/// `-bias_in . x - sum_j softplus(bias_out_j + (x W)_j)` for each row of `x`.
fn free_energy_side<T: Float>(
    x: MatRef<'_, T>,
    w: MatRef<'_, T>,
    bias_in: &[T],
    bias_out: &[T],
) -> Vec<f64> {
    assert_eq!(
        x.ncols(),
        w.nrows(),
        "batch width must equal the layer size"
    );
    let mut field = Mat::<T>::zeros(x.nrows(), w.ncols());
    matmul(field.as_mut(), Accum::Replace, x, w, T::of(1.0));
    let mut acc = vec![0.0f64; x.nrows()];
    for (j, &bj) in bias_out.iter().enumerate() {
        T::softplus_bias_acc(field.col_as_slice(j), bj, &mut acc);
    }
    for (i, &ai) in bias_in.iter().enumerate() {
        let ai = ai.as_f64();
        for (r, f) in acc.iter_mut().enumerate() {
            *f += ai * x[(r, i)].as_f64();
        }
    }
    acc.iter_mut().for_each(|f| *f = -*f);
    acc
}

/// `m[:, j] += bias[j]` for every column.
pub(crate) fn add_col_bias<T: Float>(mut m: MatMut<'_, T>, bias: &[T]) {
    for (j, &bj) in bias.iter().enumerate() {
        for x in m.rb_mut().col_mut(j).iter_mut() {
            *x += bj;
        }
    }
}

/// `m[:, j] <- sigmoid(m[:, j] + bias[j])`.
pub(crate) fn sigmoid_col_bias<T: Float>(m: MatMut<'_, T>, bias: &[T]) {
    profile::timed(Section::Elementwise, || sigmoid_col_bias_untimed(m, bias));
}

fn sigmoid_col_bias_untimed<T: Float>(m: MatMut<'_, T>, bias: &[T]) {
    match column_tasks(m.nrows(), m.ncols()) {
        Some(c) => m
            .par_col_chunks_mut(c)
            .zip(bias.par_chunks(c))
            .for_each(|(m, bias)| sigmoid_cols(m, bias)),
        None => sigmoid_cols(m, bias),
    }
}

/// `out[:, j] <- sigmoid(x[:, j] + bias[j])` (one pass; columns split over threads when large).
pub(crate) fn sigmoid_col_bias_from<T: Float>(x: MatRef<'_, T>, bias: &[T], out: MatMut<'_, T>) {
    let serial = |x: MatRef<'_, T>, bias: &[T], mut out: MatMut<'_, T>| {
        for (j, &bj) in bias.iter().enumerate() {
            let mut o = out.rb_mut().col_mut(j);
            match (
                x.col(j).try_as_col_major(),
                o.rb_mut().try_as_col_major_mut(),
            ) {
                (Some(x), Some(o)) => {
                    kernels::sigmoid_bias_into(x.as_slice(), bj, o.as_slice_mut())
                }
                _ => {
                    for (o, &x) in o.iter_mut().zip(x.col(j).iter()) {
                        *o = crate::linalg::math::sigmoid(x + bj);
                    }
                }
            }
        }
    };
    profile::timed(Section::Elementwise, || {
        match column_tasks(x.nrows(), x.ncols()) {
            Some(c) => x
                .par_col_chunks(c)
                .zip(bias.par_chunks(c))
                .zip(out.par_col_chunks_mut(c))
                .for_each(|((x, bias), out)| serial(x, bias, out)),
            None => serial(x, bias, out),
        }
    });
}

fn sigmoid_cols<T: Float>(mut m: MatMut<'_, T>, bias: &[T]) {
    for (j, &bj) in bias.iter().enumerate() {
        let mut col = m.rb_mut().col_mut(j);
        if let Some(c) = col.rb_mut().try_as_col_major_mut() {
            kernels::sigmoid_bias(c.as_slice_mut(), bj);
        } else {
            for x in col.iter_mut() {
                *x = crate::linalg::math::sigmoid(*x + bj);
            }
        }
    }
}

/// A gradient (or an estimate of it) with the model's shapes: `W` (`nv x nh`), `a`, `b`.
#[derive(Clone, Debug)]
pub struct Gradient<T: Float = f64> {
    /// `d/dW`.
    pub w: Mat<T>,
    /// `d/da`.
    pub a: Vec<T>,
    /// `d/db`.
    pub b: Vec<T>,
}

impl<T: Float> Gradient<T> {
    /// A zero gradient for a model of this shape.
    pub fn zeros(n_visible: usize, n_hidden: usize) -> Self {
        Gradient {
            w: Mat::zeros(n_visible, n_hidden),
            a: vec![T::of(0.0); n_visible],
            b: vec![T::of(0.0); n_hidden],
        }
    }

    /// True when every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.a.iter().chain(&self.b).all(|x| x.is_finite())
            && (0..self.w.ncols()).all(|j| self.w.col_as_slice(j).iter().all(|x| x.is_finite()))
    }
}

/// Serialised form of an [`Rbm`]: `W` row-major (`n_visible x n_hidden`), values in `f64`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RbmParams {
    /// Number of visible units.
    pub n_visible: usize,
    /// Number of hidden units.
    pub n_hidden: usize,
    /// `W` in row-major order (`w[i * n_hidden + j] = W_ij`).
    pub w: Vec<f64>,
    /// Visible biases.
    pub a: Vec<f64>,
    /// Hidden biases.
    pub b: Vec<f64>,
}

impl<T: Float> From<&Rbm<T>> for RbmParams {
    fn from(r: &Rbm<T>) -> Self {
        let (nv, nh) = (r.n_visible(), r.n_hidden());
        let mut w = Vec::with_capacity(nv * nh);
        for i in 0..nv {
            for j in 0..nh {
                w.push(r.w[(i, j)].as_f64());
            }
        }
        RbmParams {
            n_visible: nv,
            n_hidden: nh,
            w,
            a: r.a.iter().map(|x| x.as_f64()).collect(),
            b: r.b.iter().map(|x| x.as_f64()).collect(),
        }
    }
}

impl RbmParams {
    /// Builds the model, checking every length against `n_visible` and `n_hidden`.
    pub fn to_rbm<T: Float>(&self) -> Result<Rbm<T>> {
        let (nv, nh) = (self.n_visible, self.n_hidden);
        if self.w.len() != nv * nh {
            return Err(Error::Shape(format!(
                "w has {} values, expected n_visible x n_hidden = {nv} x {nh} = {}",
                self.w.len(),
                nv * nh
            )));
        }
        let w = Mat::from_fn(nv, nh, |i, j| T::of(self.w[i * nh + j]));
        Rbm::from_parts(
            w,
            self.a.iter().map(|&x| T::of(x)).collect(),
            self.b.iter().map(|&x| T::of(x)).collect(),
        )
    }
}

impl<T: Float> Serialize for Rbm<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        RbmParams::from(self).serialize(s)
    }
}

impl<'de, T: Float> Deserialize<'de> for Rbm<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let p = RbmParams::deserialize(d)?;
        p.to_rbm().map_err(serde::de::Error::custom)
    }
}
