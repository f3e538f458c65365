//! TAP / Plefka extended mean-field (EMF) free energies of an RBM (Gabrie, Tramel, Krzakala,
//! NIPS 2015), their stationary points, and the gradients and estimates built on them.
//!
//! With `nu = m - m^2` and `kappa = (1/2 - m) nu` (per unit, both layers) and the entropy
//! `S(m) = -sum [m ln m + (1-m) ln(1-m)]` over all units, the Gibbs free energies are
//!
//! ```text
//! G1(m) = -S(mv) - S(mh) - a.mv - b.mh - mv^T W mh              (naive mean field)
//! G2(m) = G1(m) - 1/2 nu_v^T (W o W) nu_h                        (TAP, 2nd order)
//! G3(m) = G2(m) - 2/3 kappa_v^T (W o W o W) kappa_h              (3rd order)
//! ```
//!
//! and `ln Z ~ -G_k(m*)` at a stationary point `m*`, found by iterating (kappa form of the
//! third-order field, see `MATH.md` section 2)
//!
//! ```text
//! mv = s( a + W mh + (1/2 - mv) (W o W) nu_h + (1/3 - 2 nu_v) (W o W o W) kappa_h )
//! mh = s( b + W^T mv + (1/2 - mh) (W o W)^T nu_v + (1/3 - 2 nu_h) (W o W o W)^T kappa_v )
//! ```
//!
//! Magnetizations are stored like data: one particle per ROW (`particles x units`). A
//! [`TapSolver`] owns `W o W`, `W o W o W` (recomputed by [`TapSolver::refresh`] after every
//! parameter change) and every buffer, so its sweep loop allocates nothing. Each sweep costs
//! 2 GEMMs (MF), 4 (TAP2) or 6 (TAP3); the elementwise work of a layer (field + bias + Onsager
//! terms + sigmoid + damping + residual + the next `nu`, `kappa`) is one fused, vectorised pass.
//!
//! ```
//! use emf_rbm::{Rbm, faer::Mat};
//! use emf_rbm::tap::{SolverOptions, TapOrder, TapSolver};
//!
//! let mut rng = emf_rbm::rng::rng(3);
//! let rbm = Rbm::<f64>::random(6, 4, 0.3, &mut rng).unwrap();
//! let start = Mat::<f64>::from_fn(2, 6, |r, i| ((r + i) % 2) as f64);
//!
//! let mut solver = TapSolver::new(TapOrder::Tap3, 6, 4);
//! solver.refresh(&rbm);
//! solver.init_from_visible(&rbm, start.as_ref());
//! let report = solver.solve(&rbm, &SolverOptions::converged());
//! assert!(report.residual < 1e-8);
//! let ln_z = -solver.free_energy(&rbm)[0]; // TAP3 estimate of ln Z from particle 0
//! assert!(ln_z.is_finite());
//! ```

use std::fmt;
use std::str::FromStr;

use faer::reborrow::ReborrowMut;
use faer::{Accum, MatMut, MatRef};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::{kernels, matmul};
use crate::rbm::{Gradient, Rbm};

/// Magnetizations are clipped to `[CLIP, 1 - CLIP]` before any logarithm.
///
/// The entropy error this introduces at a saturated unit is about `CLIP ln(1/CLIP)`
/// (3e-11 nats), far below what `1e-7` would cost (2e-6 nats per unit, i.e. ~1e-3 nats on a
/// 784-pixel image with many blank pixels).
pub const CLIP: f64 = 1e-12;

/// Rows per chunk when the estimators solve for many samples (bounds their memory use).
pub const ESTIMATE_CHUNK: usize = 256;

/// Order of the Plefka expansion: naive mean field (1), TAP (2), third order (3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TapOrder {
    /// Naive mean field, `G1`.
    Mf,
    /// TAP with the Onsager reaction term, `G2` (the paper's default).
    #[default]
    Tap2,
    /// Third order, `G3` (kappa form, coefficient 2/3).
    Tap3,
}

impl TapOrder {
    /// All orders, lowest first.
    pub const ALL: [TapOrder; 3] = [TapOrder::Mf, TapOrder::Tap2, TapOrder::Tap3];

    /// The expansion order `k` (1, 2 or 3).
    pub fn k(self) -> usize {
        match self {
            TapOrder::Mf => 1,
            TapOrder::Tap2 => 2,
            TapOrder::Tap3 => 3,
        }
    }

    /// The order with expansion order `k` (1, 2 or 3).
    pub fn from_k(k: usize) -> Option<TapOrder> {
        match k {
            1 => Some(TapOrder::Mf),
            2 => Some(TapOrder::Tap2),
            3 => Some(TapOrder::Tap3),
            _ => None,
        }
    }

    /// `"mf"`, `"tap2"` or `"tap3"`.
    pub fn name(self) -> &'static str {
        match self {
            TapOrder::Mf => "mf",
            TapOrder::Tap2 => "tap2",
            TapOrder::Tap3 => "tap3",
        }
    }

    /// GEMMs per solver sweep: 2, 4 or 6.
    pub fn gemms_per_sweep(self) -> usize {
        2 * self.k()
    }
}

impl fmt::Display for TapOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TapOrder {
    type Err = Error;

    /// Parses `mf`, `tap2`, `tap3` (also `tap1`, `1`, `2`, `3`).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mf" | "tap1" | "1" => Ok(TapOrder::Mf),
            "tap" | "tap2" | "2" => Ok(TapOrder::Tap2),
            "tap3" | "3" => Ok(TapOrder::Tap3),
            other => Err(Error::param(
                "order",
                format!("unknown TAP order `{other}` (expected mf, tap2 or tap3)"),
            )),
        }
    }
}

/// How the two layers are updated within a sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOrder {
    /// Sequential: hidden from the current visible, then visible from the new hidden.
    #[default]
    HiddenFirst,
    /// Sequential: visible first, then hidden.
    VisibleFirst,
    /// Parallel (Jacobi): both layers from the previous sweep's values. Undamped, this
    /// oscillates once `||W||` is a few units; offered for comparison.
    Parallel,
}

/// Stopping rule and update scheme of the fixed-point iteration.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolverOptions {
    /// At most this many sweeps (>= 1).
    pub max_sweeps: usize,
    /// Stop once a sweep changes no magnetization by more than this (`max |dm|`); 0 runs
    /// all `max_sweeps` sweeps (unless a sweep changes nothing at all).
    pub tolerance: f64,
    /// Damping `d` in `[0, 1)`: `m <- d m_old + (1 - d) f(m)`.
    pub damping: f64,
    /// Sequential (either order) or parallel updates.
    pub update_order: UpdateOrder,
}

impl SolverOptions {
    /// The paper's setting: 3 sweeps, damping 0.5, hidden then visible.
    pub fn paper() -> Self {
        SolverOptions {
            max_sweeps: 3,
            tolerance: 0.0,
            damping: 0.5,
            update_order: UpdateOrder::HiddenFirst,
        }
    }

    /// Iterate to a fixed point: undamped sequential sweeps until `max |dm| < 1e-8`, at most
    /// 100 sweeps. (In `f32` the residual cannot fall much below 1e-7; use a looser
    /// tolerance there.)
    pub fn converged() -> Self {
        SolverOptions {
            max_sweeps: 100,
            tolerance: 1e-8,
            damping: 0.0,
            update_order: UpdateOrder::HiddenFirst,
        }
    }

    /// Checks the ranges of every field.
    pub fn validate(&self) -> Result<()> {
        if self.max_sweeps == 0 {
            return Err(Error::param("sweeps", "at least one sweep is needed"));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(Error::param(
                "tolerance",
                format!("must be finite and >= 0, got {}", self.tolerance),
            ));
        }
        if !(0.0..1.0).contains(&self.damping) {
            return Err(Error::param(
                "damping",
                format!("must be in [0, 1), got {}", self.damping),
            ));
        }
        Ok(())
    }
}

impl Default for SolverOptions {
    /// [`SolverOptions::paper`].
    fn default() -> Self {
        SolverOptions::paper()
    }
}

/// What a [`TapSolver::solve`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SolveReport {
    /// Sweeps performed.
    pub sweeps: usize,
    /// `max |dm|` over all particles and units in the last sweep.
    pub residual: f64,
    /// True when the residual reached the tolerance.
    pub converged: bool,
}

// ---------------------------------------------------------------------------------------------
// Fused elementwise kernels, dispatched at run time to AVX-512 / AVX2 code (same pattern as
// `linalg::kernels`). They are generic over the model's float type and compute in f64.

use crate::linalg::simd_dispatch as dispatch;

/// `max(r, d)` that propagates a NaN `d` (compiles to a vector select).
#[inline(always)]
fn max_nan(r: f64, d: f64) -> f64 {
    if d <= r {
        r
    } else {
        d
    }
}

/// Branch-free `e^x` in `f32` for `x` clamped to `[-87, 88]`: Cody-Waite reduction
/// `x = n ln 2 + r` and a degree-7 Taylor polynomial (relative error below 2e-7 on
/// `|r| <= ln2/2`).
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    // ln 2 = 0.693359375 - 2.12194440e-4 (the first part is exact in 10 bits).
    let r = (x - n * 0.693_359_4) + n * 2.121_944_4e-4;
    let mut p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^n from the low bits of t (= MAGIC + n).
    p * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
}

/// Branch-free sigmoid in `f32`.
#[inline(always)]
fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// The loops of [`update_column`] computed in precision `$F` (`f64` for `f64` models, `f32`
/// for `f32` models, whose magnetizations are stored in `f32` anyway: twice the vector lanes).
macro_rules! update_loops {
    ($F:ty, $sig:path, $T:ident, $order:expr, $field:expr, $bias:expr, $o2:expr, $o3:expr,
     $m:expr, $nu:expr, $kap:expr, $res:expr, $keep:expr) => {{
        let m = $m;
        let n = m.len();
        let field = &$field[..n];
        let res = &mut $res[..n];
        let ld = |x: $T| x.as_f64() as $F;
        let st = |x: $F| $T::of(x as f64);
        let bias = $bias as $F;
        let keep = $keep as $F;
        let take = (1.0 - $keep) as $F;
        let (half, third, two): ($F, $F, $F) = (0.5, 1.0 / 3.0, 2.0);
        match $order {
            1 => {
                for r in 0..n {
                    let old = ld(m[r]);
                    let new = st(keep * old + take * $sig(ld(field[r]) + bias));
                    res[r] = max_nan(res[r], (ld(new) - old).abs() as f64);
                    m[r] = new;
                }
            }
            2 => {
                let (o2, nu) = (&$o2[..n], &mut $nu[..n]);
                for r in 0..n {
                    let old = ld(m[r]);
                    let x = ld(field[r]) + bias + (half - old) * ld(o2[r]);
                    let new = st(keep * old + take * $sig(x));
                    let nf = ld(new);
                    res[r] = max_nan(res[r], (nf - old).abs() as f64);
                    m[r] = new;
                    nu[r] = st(nf - nf * nf);
                }
            }
            _ => {
                let (o2, o3) = (&$o2[..n], &$o3[..n]);
                let (nu, kap) = (&mut $nu[..n], &mut $kap[..n]);
                for r in 0..n {
                    let old = ld(m[r]);
                    let nu_old = old - old * old;
                    let x = ld(field[r])
                        + bias
                        + (half - old) * ld(o2[r])
                        + (third - two * nu_old) * ld(o3[r]);
                    let new = st(keep * old + take * $sig(x));
                    let nf = ld(new);
                    res[r] = max_nan(res[r], (nf - old).abs() as f64);
                    m[r] = new;
                    let nun = nf - nf * nf;
                    nu[r] = st(nun);
                    kap[r] = st((half - nf) * nun);
                }
            }
        }
    }};
}

dispatch! {
    /// One unit (column) of a layer update over all particles:
    /// `m <- keep m + (1 - keep) s(field + bias + (1/2 - m) o2 + (1/3 - 2 nu) o3)`, then the
    /// new `nu`, `kappa` and the per-particle residual `res = max(res, |dm|)`.
    fn update_column<T>(
        order: usize,
        field: &[T],
        bias: f64,
        o2: &[T],
        o3: &[T],
        m: &mut [T],
        nu: &mut [T],
        kap: &mut [T],
        res: &mut [f64],
        keep: f64,
    ) {
        if std::mem::size_of::<T>() == 4 {
            update_loops!(f32, sigmoid_f32, T, order, field, bias, o2, o3, m, nu, kap, res, keep)
        } else {
            update_loops!(f64, kernels::sigmoid, T, order, field, bias, o2, o3, m, nu, kap, res, keep)
        }
    }
}

dispatch! {
    /// If `set`: `m <- s(field + bias)`. Then `nu`, `kappa` of `m` (as the order needs);
    /// returns `max |nu|` (0 when every `m` is 0 or 1).
    fn init_column<T>(
        order: usize,
        field: &[T],
        bias: f64,
        set: bool,
        m: &mut [T],
        nu: &mut [T],
        kap: &mut [T],
    ) -> f64 {
        let n = m.len();
        if set {
            let field = &field[..n];
            if std::mem::size_of::<T>() == 4 {
                let b = bias as f32;
                for r in 0..n {
                    m[r] = T::of(sigmoid_f32(field[r].as_f64() as f32 + b) as f64);
                }
            } else {
                for r in 0..n {
                    m[r] = T::of(kernels::sigmoid(field[r].as_f64() + bias));
                }
            }
        }
        // Eight independent running maxima (a loop-carried max over one value would not
        // vectorise).
        let mut big = [0.0f64; 8];
        if order >= 2 {
            let nu = &mut nu[..n];
            for r in 0..n {
                let x = m[r].as_f64();
                let v = x - x * x;
                big[r % 8] = max_nan(big[r % 8], v.abs());
                nu[r] = T::of(v);
            }
        }
        if order >= 3 {
            let kap = &mut kap[..n];
            for r in 0..n {
                let x = m[r].as_f64();
                kap[r] = T::of((0.5 - x) * (x - x * x));
            }
        }
        big.iter().fold(0.0, |a, &b| max_nan(a, b))
    }
}

dispatch! {
    /// `w2 <- w o w` and (order 3) `w3 <- w o w o w`.
    fn powers_column<T>(order: usize, w: &[T], w2: &mut [T], w3: &mut [T]) {
        let n = w.len();
        let w2 = &mut w2[..n];
        if order >= 3 {
            let w3 = &mut w3[..n];
            for i in 0..n {
                let x = w[i].as_f64();
                w2[i] = T::of(x * x);
                w3[i] = T::of(x * x * x);
            }
        } else {
            for i in 0..n {
                let x = w[i].as_f64();
                w2[i] = T::of(x * x);
            }
        }
    }
}

dispatch! {
    /// `g += w o tn` (order 2) or `g += w o tn + 2 w2 o tk` (order 3).
    fn onsager_gradient_column<T>(order: usize, w: &[T], tn: &[T], w2: &[T], tk: &[T], g: &mut [T]) {
        let n = g.len();
        let (w, tn) = (&w[..n], &tn[..n]);
        if order >= 3 {
            let (w2, tk) = (&w2[..n], &tk[..n]);
            for i in 0..n {
                let x = g[i].as_f64()
                    + w[i].as_f64() * tn[i].as_f64()
                    + 2.0 * w2[i].as_f64() * tk[i].as_f64();
                g[i] = T::of(x);
            }
        } else {
            for i in 0..n {
                g[i] = T::of(g[i].as_f64() + w[i].as_f64() * tn[i].as_f64());
            }
        }
    }
}

dispatch! {
    /// `sum x` in f64 over 8 interleaved partial sums (a fixed order, vectorised).
    fn column_sum<T>(x: &[T]) -> f64 {
        let mut part = [0.0f64; 8];
        let chunks = x.len() / 8;
        for c in 0..chunks {
            for k in 0..8 {
                part[k] += x[c * 8 + k].as_f64();
            }
        }
        let mut tail = 0.0;
        for v in &x[chunks * 8..] {
            tail += v.as_f64();
        }
        part.iter().sum::<f64>() + tail
    }
}

/// `m ln m + (1 - m) ln(1 - m)` with `m` clipped to `[CLIP, 1 - CLIP]` (= `-S` of one unit).
#[inline]
fn neg_entropy(m: f64) -> f64 {
    let m = m.clamp(CLIP, 1.0 - CLIP);
    m * m.ln() + (1.0 - m) * (-m).ln_1p()
}

// ---------------------------------------------------------------------------------------------
// Column-parallel elementwise passes. The columns are split into a FIXED number of blocks (so
// results never depend on the thread count: each column is computed the same way, and the
// per-particle residual is a max, which is exact in any order) processed with `rayon::join`.

/// Column blocks of the parallel elementwise passes.
const PARTS: usize = 4;
/// Matrices with fewer elements than this are processed on the calling thread.
const PAR_MIN: usize = 1 << 15;

/// Something that can be split into two column blocks.
trait ColSplit: Sized + Send {
    fn ncols(&self) -> usize;
    /// Splits after `c` columns; the first half gets `half` of the remaining parts.
    fn split(self, c: usize, half: usize) -> (Self, Self);
}

/// Runs `leaf` on `parts` consecutive column blocks of `s`, in parallel.
fn par_blocks<S: ColSplit>(s: S, parts: usize, leaf: &(impl Fn(S) + Sync)) {
    if parts <= 1 || s.ncols() < 2 {
        leaf(s);
    } else {
        let half = parts / 2;
        let c = s.ncols() * half / parts;
        let (a, b) = s.split(c, half);
        rayon::join(
            || par_blocks(a, half, leaf),
            || par_blocks(b, parts - half, leaf),
        );
    }
}

fn split_mut<T>(s: &mut [T], at: usize) -> (&mut [T], &mut [T]) {
    if s.is_empty() {
        (&mut [], &mut [])
    } else {
        s.split_at_mut(at)
    }
}

fn split_ref<T>(s: &[T], at: usize) -> (&[T], &[T]) {
    if s.is_empty() {
        (&[], &[])
    } else {
        s.split_at(at)
    }
}

/// `s[j * p .. (j + 1) * p]`, or `&[]` for an unused (empty) buffer.
fn col<T>(s: &[T], j: usize, p: usize) -> &[T] {
    if s.is_empty() {
        &[]
    } else {
        &s[j * p..(j + 1) * p]
    }
}

fn col_mut<T>(s: &mut [T], j: usize, p: usize) -> &mut [T] {
    if s.is_empty() {
        &mut []
    } else {
        &mut s[j * p..(j + 1) * p]
    }
}

/// A block of consecutive units (columns) of one layer: its buffers (`p` rows, column-major),
/// biases, and its own per-particle residual / statistic buffers.
struct LayerBlock<'a, T> {
    /// Column stride (rows including padding).
    p: usize,
    n: usize,
    bias: &'a [T],
    m: &'a mut [T],
    nu: &'a mut [T],
    kap: &'a mut [T],
    f: &'a [T],
    o2: &'a [T],
    o3: &'a [T],
    res: &'a mut [Vec<f64>],
}

impl<T: Float> ColSplit for LayerBlock<'_, T> {
    fn ncols(&self) -> usize {
        self.n
    }
    fn split(self, c: usize, half: usize) -> (Self, Self) {
        let at = c * self.p;
        let (bias0, bias1) = split_ref(self.bias, c);
        let (m0, m1) = split_mut(self.m, at);
        let (nu0, nu1) = split_mut(self.nu, at);
        let (k0, k1) = split_mut(self.kap, at);
        let (f0, f1) = split_ref(self.f, at);
        let (a0, a1) = split_ref(self.o2, at);
        let (b0, b1) = split_ref(self.o3, at);
        let (r0, r1) = self.res.split_at_mut(half);
        let p = self.p;
        (
            LayerBlock {
                p,
                n: c,
                bias: bias0,
                m: m0,
                nu: nu0,
                kap: k0,
                f: f0,
                o2: a0,
                o3: b0,
                res: r0,
            },
            LayerBlock {
                p,
                n: self.n - c,
                bias: bias1,
                m: m1,
                nu: nu1,
                kap: k1,
                f: f1,
                o2: a1,
                o3: b1,
                res: r1,
            },
        )
    }
}

/// Columns of `W` (`nv x nh`) with the matching columns of `W o W`, `W o W o W` (contiguous).
struct PowersBlock<'a, T> {
    w: MatRef<'a, T>,
    w2: &'a mut [T],
    w3: &'a mut [T],
}

impl<T: Float> ColSplit for PowersBlock<'_, T> {
    fn ncols(&self) -> usize {
        self.w.ncols()
    }
    fn split(self, c: usize, _half: usize) -> (Self, Self) {
        let at = c * self.w.nrows();
        let (w0, w1) = self.w.split_at_col(c);
        let (a0, a1) = split_mut(self.w2, at);
        let (b0, b1) = split_mut(self.w3, at);
        (
            PowersBlock {
                w: w0,
                w2: a0,
                w3: b0,
            },
            PowersBlock {
                w: w1,
                w2: a1,
                w3: b1,
            },
        )
    }
}

/// Columns of the gradient `g`, `W`, and the contiguous `Nv^T Nh`, `W o W`, `Kv^T Kh`.
struct GradBlock<'a, T> {
    g: MatMut<'a, T>,
    w: MatRef<'a, T>,
    tn: &'a [T],
    w2: &'a [T],
    tk: &'a [T],
}

impl<T: Float> ColSplit for GradBlock<'_, T> {
    fn ncols(&self) -> usize {
        self.g.ncols()
    }
    fn split(self, c: usize, _half: usize) -> (Self, Self) {
        let at = c * self.g.nrows();
        let (g0, g1) = self.g.split_at_col_mut(c);
        let (w0, w1) = self.w.split_at_col(c);
        let (n0, n1) = split_ref(self.tn, at);
        let (a0, a1) = split_ref(self.w2, at);
        let (k0, k1) = split_ref(self.tk, at);
        (
            GradBlock {
                g: g0,
                w: w0,
                tn: n0,
                w2: a0,
                tk: k0,
            },
            GradBlock {
                g: g1,
                w: w1,
                tn: n1,
                w2: a1,
                tk: k1,
            },
        )
    }
}

fn col_slice<'a, T>(m: MatRef<'a, T>, j: usize) -> &'a [T] {
    m.col(j)
        .try_as_col_major()
        .expect("contiguous columns")
        .as_slice()
}

/// One layer's magnetizations and work buffers, all `p x n` column-major in plain vectors
/// (capacity kept when the particle count shrinks).
#[derive(Clone, Debug)]
struct Layer<T: Float> {
    n: usize,
    /// Magnetizations.
    m: Vec<T>,
    /// `m - m^2` (order >= 2; empty otherwise).
    nu: Vec<T>,
    /// `(1/2 - m) nu` (order 3; empty otherwise).
    kap: Vec<T>,
    /// Mean field from the other layer (without bias).
    f: Vec<T>,
    /// Onsager field `(W o W) nu_other` (order >= 2).
    o2: Vec<T>,
    /// Third-order field `(W o W o W) kappa_other` (order 3).
    o3: Vec<T>,
}

impl<T: Float> Layer<T> {
    fn new(n: usize) -> Self {
        Layer {
            n,
            m: Vec::new(),
            nu: Vec::new(),
            kap: Vec::new(),
            f: Vec::new(),
            o2: Vec::new(),
            o3: Vec::new(),
        }
    }

    fn resize(&mut self, order: TapOrder, ps: usize) {
        let k = order.k();
        let len = ps * self.n;
        let zero = T::of(0.0);
        self.m.resize(len, zero);
        self.f.resize(len, zero);
        if k >= 2 {
            self.nu.resize(len, zero);
            self.o2.resize(len, zero);
        }
        if k >= 3 {
            self.kap.resize(len, zero);
            self.o3.resize(len, zero);
        }
    }

    fn block<'a>(
        &'a mut self,
        ps: usize,
        bias: &'a [T],
        res: &'a mut [Vec<f64>],
    ) -> LayerBlock<'a, T> {
        LayerBlock {
            p: ps,
            n: self.n,
            bias,
            m: &mut self.m,
            nu: &mut self.nu,
            kap: &mut self.kap,
            f: &self.f,
            o2: &self.o2,
            o3: &self.o3,
            res,
        }
    }

    fn parts(&self, ps: usize) -> usize {
        if ps * self.n >= PAR_MIN {
            PARTS
        } else {
            1
        }
    }

    /// The fused update of every unit; `res` becomes `max(res, |dm|)` per particle.
    fn apply(
        &mut self,
        order: TapOrder,
        ps: usize,
        bias: &[T],
        keep: f64,
        parts: &mut [Vec<f64>],
        res: &mut [f64],
    ) {
        let k = order.k();
        let np = self.parts(ps);
        let parts = &mut parts[..np];
        parts
            .iter_mut()
            .for_each(|r| r.iter_mut().for_each(|x| *x = 0.0));
        par_blocks(self.block(ps, bias, parts), np, &|b: LayerBlock<'_, T>| {
            let r = &mut b.res[0][..ps];
            for j in 0..b.n {
                update_column(
                    k,
                    col(b.f, j, ps),
                    b.bias[j].as_f64(),
                    col(b.o2, j, ps),
                    col(b.o3, j, ps),
                    &mut b.m[j * ps..(j + 1) * ps],
                    col_mut(b.nu, j, ps),
                    col_mut(b.kap, j, ps),
                    r,
                    keep,
                );
            }
        });
        for part in parts.iter() {
            for (x, &y) in res.iter_mut().zip(part) {
                *x = max_nan(*x, y);
            }
        }
    }

    /// Recomputes `nu` and `kappa` from `m`; with `bias = Some(b)` first sets `m = s(f + b)`.
    /// Returns `max |nu|` (0 when order < 2).
    fn init(
        &mut self,
        order: TapOrder,
        ps: usize,
        bias: Option<&[T]>,
        parts: &mut [Vec<f64>],
    ) -> f64 {
        let k = order.k();
        let np = self.parts(ps);
        let parts = &mut parts[..np];
        parts
            .iter_mut()
            .for_each(|r| r.iter_mut().for_each(|x| *x = 0.0));
        let set = bias.is_some();
        let bias = bias.unwrap_or(&[]);
        let block = self.block(ps, bias, parts);
        par_blocks(block, np, &|b: LayerBlock<'_, T>| {
            let mut big = 0.0;
            for j in 0..b.n {
                let bj = if set { b.bias[j].as_f64() } else { 0.0 };
                let x = init_column(
                    k,
                    col(b.f, j, ps),
                    bj,
                    set,
                    &mut b.m[j * ps..(j + 1) * ps],
                    col_mut(b.nu, j, ps),
                    col_mut(b.kap, j, ps),
                );
                big = max_nan(big, x);
            }
            b.res[0][0] = big;
        });
        parts.iter().fold(0.0, |a, r| max_nan(a, r[0]))
    }
}

/// Fixed-point solver for the TAP/EMF stationarity equations of one order, with every buffer
/// preallocated (the sweep loop allocates nothing).
///
/// Usage per parameter update: [`refresh`](Self::refresh) (recomputes `W o W`, `W o W o W`),
/// then [`init_from_visible`](Self::init_from_visible) or
/// [`set_magnetizations`](Self::set_magnetizations) (or keep the previous particles, for
/// persistent use), then [`solve`](Self::solve); afterwards read the magnetizations, evaluate
/// [`free_energy`](Self::free_energy) (`G_k` per particle) or
/// [`subtract_gradient`](Self::subtract_gradient) (the envelope-theorem `d ln Z / d theta`).
///
/// Every method taking `rbm` must be given the model last passed to `refresh`.
///
/// The elementwise passes run in a fixed number of column blocks (with rayon), so the results
/// are bit-identical for any number of threads.
#[derive(Clone, Debug)]
pub struct TapSolver<T: Float = f64> {
    order: TapOrder,
    nv: usize,
    nh: usize,
    /// Number of particles.
    p: usize,
    /// Column stride of the particle buffers (`padded(p)`).
    ps: usize,
    /// `W o W` (`nv x nh` column-major; empty for MF).
    w2: Vec<T>,
    /// `W o W o W` (`nv x nh`; empty below order 3).
    w3: Vec<T>,
    vis: Layer<T>,
    hid: Layer<T>,
    /// Per-particle `max |dm|` of the last sweep.
    res: Vec<f64>,
    /// Per-block residual buffers of the parallel passes.
    parts: Vec<Vec<f64>>,
    /// Gradient scratch `Nv^T Nh` and `Kv^T Kh` (`nv x nh`, allocated on first use).
    tn: Vec<T>,
    tk: Vec<T>,
    /// `hid.f` holds `mv W` for the current `mv` (set by `init_from_visible`).
    hidden_field_fresh: bool,
    /// `nu_v` and `kappa_v` are identically zero (binary visible starts).
    visible_onsager_zero: bool,
    last: SolveReport,
}

/// The `rows x cols` column-major matrix stored in `v` with column stride `stride`.
fn mat<T>(v: &[T], rows: usize, cols: usize, stride: usize) -> MatRef<'_, T> {
    MatRef::from_column_major_slice_with_stride(v, rows, cols, stride)
}

fn mat_mut<T>(v: &mut [T], rows: usize, cols: usize, stride: usize) -> MatMut<'_, T> {
    MatMut::from_column_major_slice_with_stride_mut(v, rows, cols, stride)
}

/// Column stride of the particle buffers: the particle count rounded up to 16, so the
/// elementwise loops run on whole vectors (no scalar remainder). The padding rows are never
/// read by a GEMM, a free energy or a gradient.
fn padded(p: usize) -> usize {
    p.div_ceil(16) * 16
}

impl<T: Float> TapSolver<T> {
    /// A solver of order `order` for `n_visible x n_hidden` models (no particles yet).
    pub fn new(order: TapOrder, n_visible: usize, n_hidden: usize) -> Self {
        let k = order.k();
        let wk = |used: bool| {
            if used {
                vec![T::of(0.0); n_visible * n_hidden]
            } else {
                Vec::new()
            }
        };
        TapSolver {
            order,
            nv: n_visible,
            nh: n_hidden,
            p: 0,
            ps: 0,
            w2: wk(k >= 2),
            w3: wk(k >= 3),
            vis: Layer::new(n_visible),
            hid: Layer::new(n_hidden),
            res: Vec::new(),
            parts: vec![Vec::new(); PARTS],
            tn: Vec::new(),
            tk: Vec::new(),
            hidden_field_fresh: false,
            visible_onsager_zero: false,
            last: SolveReport::default(),
        }
    }

    /// The expansion order.
    pub fn order(&self) -> TapOrder {
        self.order
    }

    /// Number of particles (rows of the magnetization matrices).
    pub fn n_particles(&self) -> usize {
        self.p
    }

    /// Visible magnetizations (`particles x n_visible`).
    pub fn visible(&self) -> MatRef<'_, T> {
        mat(&self.vis.m, self.p, self.nv, self.ps)
    }

    /// Hidden magnetizations (`particles x n_hidden`).
    pub fn hidden(&self) -> MatRef<'_, T> {
        mat(&self.hid.m, self.p, self.nh, self.ps)
    }

    /// Per-particle `max |dm|` over the units in the last sweep.
    pub fn residuals(&self) -> &[f64] {
        &self.res
    }

    /// The report of the last [`solve`](Self::solve).
    pub fn last_report(&self) -> SolveReport {
        self.last
    }

    fn check_model(&self, rbm: &Rbm<T>) {
        assert_eq!(
            (rbm.n_visible(), rbm.n_hidden()),
            (self.nv, self.nh),
            "the model's shape differs from the solver's"
        );
    }

    /// Recomputes `W o W` (order >= 2) and `W o W o W` (order 3) from `rbm`. Call after every
    /// parameter change.
    pub fn refresh(&mut self, rbm: &Rbm<T>) {
        self.check_model(rbm);
        let k = self.order.k();
        if k < 2 {
            return;
        }
        let nv = self.nv;
        let parts = if nv * self.nh >= PAR_MIN { PARTS } else { 1 };
        let block = PowersBlock {
            w: rbm.w.as_ref(),
            w2: &mut self.w2,
            w3: &mut self.w3,
        };
        par_blocks(block, parts, &|b: PowersBlock<'_, T>| {
            for j in 0..b.w.ncols() {
                let w3: &mut [T] = col_mut(b.w3, j, nv);
                powers_column(k, col_slice(b.w, j), &mut b.w2[j * nv..(j + 1) * nv], w3);
            }
        });
    }

    /// Sets the number of particles (buffers grow only beyond the capacity reached so far).
    fn resize(&mut self, p: usize) {
        if self.p != p || self.res.len() != p {
            let ps = padded(p);
            self.p = p;
            self.ps = ps;
            self.vis.resize(self.order, ps);
            self.hid.resize(self.order, ps);
            self.res.resize(p, 0.0);
            for part in &mut self.parts {
                part.resize(ps.max(1), 0.0);
            }
        }
    }

    /// Zeroes the padding rows of the magnetizations (so `nu` is 0 there).
    fn clear_padding(&mut self) {
        let (p, ps) = (self.p, self.ps);
        for m in [&mut self.vis.m, &mut self.hid.m] {
            for c in m.chunks_mut(ps) {
                c[p..].iter_mut().for_each(|x| *x = T::of(0.0));
            }
        }
    }

    /// Starts one particle per row of `v`: `mv = v`, `mh = s(b + W^T v)` (one GEMM).
    pub fn init_from_visible(&mut self, rbm: &Rbm<T>, v: MatRef<'_, T>) {
        self.check_model(rbm);
        assert_eq!(v.ncols(), self.nv, "rows must have n_visible entries");
        let (p, nv, nh) = (v.nrows(), self.nv, self.nh);
        self.resize(p);
        let ps = self.ps;
        mat_mut(&mut self.vis.m, p, nv, ps).copy_from(v);
        self.clear_padding();
        let big = self.vis.init(self.order, ps, None, &mut self.parts);
        matmul(
            mat_mut(&mut self.hid.f, p, nh, ps),
            Accum::Replace,
            mat(&self.vis.m, p, nv, ps),
            rbm.w.as_ref(),
            T::of(1.0),
        );
        self.hid.init(self.order, ps, Some(&rbm.b), &mut self.parts);
        self.hidden_field_fresh = true;
        self.visible_onsager_zero = self.order.k() >= 2 && big == 0.0;
        self.res.iter_mut().for_each(|r| *r = f64::INFINITY);
    }

    /// Sets the particles to the given magnetizations (same number of rows).
    pub fn set_magnetizations(&mut self, mv: MatRef<'_, T>, mh: MatRef<'_, T>) {
        assert_eq!(
            mv.nrows(),
            mh.nrows(),
            "mv and mh need the same number of rows"
        );
        assert_eq!(mv.ncols(), self.nv, "mv must have n_visible columns");
        assert_eq!(mh.ncols(), self.nh, "mh must have n_hidden columns");
        let (p, nv, nh) = (mv.nrows(), self.nv, self.nh);
        self.resize(p);
        let ps = self.ps;
        mat_mut(&mut self.vis.m, p, nv, ps).copy_from(mv);
        mat_mut(&mut self.hid.m, p, nh, ps).copy_from(mh);
        self.clear_padding();
        self.vis.init(self.order, ps, None, &mut self.parts);
        self.hid.init(self.order, ps, None, &mut self.parts);
        self.hidden_field_fresh = false;
        self.visible_onsager_zero = false;
        self.res.iter_mut().for_each(|r| *r = f64::INFINITY);
    }

    /// Hidden fields from the current visible layer: 1-3 GEMMs.
    fn hidden_fields(&mut self, rbm: &Rbm<T>) {
        let (k, p, ps, nv, nh) = (self.order.k(), self.p, self.ps, self.nv, self.nh);
        let one = T::of(1.0);
        if !self.hidden_field_fresh {
            let (f, m) = (
                mat_mut(&mut self.hid.f, p, nh, ps),
                mat(&self.vis.m, p, nv, ps),
            );
            matmul(f, Accum::Replace, m, rbm.w.as_ref(), one);
        }
        self.hidden_field_fresh = false;
        if self.visible_onsager_zero {
            // nu_v = kappa_v = 0 exactly: the Onsager fields vanish (skip the GEMMs).
            self.hid.o2.iter_mut().for_each(|x| *x = T::of(0.0));
            self.hid.o3.iter_mut().for_each(|x| *x = T::of(0.0));
            return;
        }
        if k >= 2 {
            let (o2, nu) = (
                mat_mut(&mut self.hid.o2, p, nh, ps),
                mat(&self.vis.nu, p, nv, ps),
            );
            matmul(o2, Accum::Replace, nu, mat(&self.w2, nv, nh, nv), one);
        }
        if k >= 3 {
            let (o3, kap) = (
                mat_mut(&mut self.hid.o3, p, nh, ps),
                mat(&self.vis.kap, p, nv, ps),
            );
            matmul(o3, Accum::Replace, kap, mat(&self.w3, nv, nh, nv), one);
        }
    }

    /// Visible fields from the current hidden layer: 1-3 GEMMs.
    fn visible_fields(&mut self, rbm: &Rbm<T>) {
        let (k, p, ps, nv, nh) = (self.order.k(), self.p, self.ps, self.nv, self.nh);
        let one = T::of(1.0);
        let (f, m) = (
            mat_mut(&mut self.vis.f, p, nv, ps),
            mat(&self.hid.m, p, nh, ps),
        );
        matmul(f, Accum::Replace, m, rbm.w.transpose(), one);
        if k >= 2 {
            let (o2, nu) = (
                mat_mut(&mut self.vis.o2, p, nv, ps),
                mat(&self.hid.nu, p, nh, ps),
            );
            matmul(
                o2,
                Accum::Replace,
                nu,
                mat(&self.w2, nv, nh, nv).transpose(),
                one,
            );
        }
        if k >= 3 {
            let (o3, kap) = (
                mat_mut(&mut self.vis.o3, p, nv, ps),
                mat(&self.hid.kap, p, nh, ps),
            );
            matmul(
                o3,
                Accum::Replace,
                kap,
                mat(&self.w3, nv, nh, nv).transpose(),
                one,
            );
        }
    }

    fn apply_hidden(&mut self, rbm: &Rbm<T>, keep: f64) {
        self.hid.apply(
            self.order,
            self.ps,
            &rbm.b,
            keep,
            &mut self.parts,
            &mut self.res,
        );
    }

    fn apply_visible(&mut self, rbm: &Rbm<T>, keep: f64) {
        self.vis.apply(
            self.order,
            self.ps,
            &rbm.a,
            keep,
            &mut self.parts,
            &mut self.res,
        );
        self.visible_onsager_zero = false;
        self.hidden_field_fresh = false;
    }

    /// One sweep over both layers with damping `damping`; returns `max |dm|`.
    pub fn sweep(&mut self, rbm: &Rbm<T>, update_order: UpdateOrder, damping: f64) -> f64 {
        self.check_model(rbm);
        self.res.iter_mut().for_each(|r| *r = 0.0);
        match update_order {
            UpdateOrder::HiddenFirst => {
                self.hidden_fields(rbm);
                self.apply_hidden(rbm, damping);
                self.visible_fields(rbm);
                self.apply_visible(rbm, damping);
            }
            UpdateOrder::VisibleFirst => {
                self.visible_fields(rbm);
                self.apply_visible(rbm, damping);
                self.hidden_fields(rbm);
                self.apply_hidden(rbm, damping);
            }
            UpdateOrder::Parallel => {
                self.hidden_fields(rbm);
                self.visible_fields(rbm);
                self.apply_hidden(rbm, damping);
                self.apply_visible(rbm, damping);
            }
        }
        self.res.iter().fold(0.0, |a, &r| max_nan(a, r))
    }

    /// Iterates sweeps until `max |dm| <= tolerance` or `max_sweeps` sweeps.
    ///
    /// # Panics
    /// If `opts` is invalid (see [`SolverOptions::validate`]) or there are no particles.
    pub fn solve(&mut self, rbm: &Rbm<T>, opts: &SolverOptions) -> SolveReport {
        if let Err(e) = opts.validate() {
            panic!("{e}");
        }
        assert!(self.p > 0, "no particles: call init_from_visible first");
        let mut report = SolveReport::default();
        for s in 1..=opts.max_sweeps {
            let r = self.sweep(rbm, opts.update_order, opts.damping);
            report.sweeps = s;
            report.residual = r;
            if r <= opts.tolerance {
                report.converged = true;
                break;
            }
        }
        self.last = report;
        report
    }

    /// `G_k` (the order's Gibbs free energy) of every particle, accumulated in `f64`.
    pub fn free_energy(&mut self, rbm: &Rbm<T>) -> Vec<f64> {
        let mut out = vec![0.0; self.p];
        self.free_energy_into(rbm, &mut out);
        out
    }

    /// [`free_energy`](Self::free_energy) into `out` (length = number of particles). Uses the
    /// field buffers as scratch (1-3 GEMMs).
    pub fn free_energy_into(&mut self, rbm: &Rbm<T>, out: &mut [f64]) {
        self.check_model(rbm);
        let (k, p, ps, nv, nh) = (self.order.k(), self.p, self.ps, self.nv, self.nh);
        assert_eq!(out.len(), p, "one output per particle");
        let one = T::of(1.0);
        out.iter_mut().for_each(|g| *g = 0.0);
        // -S(mv) - a.mv
        for (i, &ai) in rbm.a.iter().enumerate() {
            let ai = ai.as_f64();
            for (g, &x) in out.iter_mut().zip(col(&self.vis.m, i, ps)) {
                let x = x.as_f64();
                *g += neg_entropy(x) - ai * x;
            }
        }
        // -S(mh) - b.mh - mh.(mv W)
        if !self.hidden_field_fresh {
            let (f, m) = (
                mat_mut(&mut self.hid.f, p, nh, ps),
                mat(&self.vis.m, p, nv, ps),
            );
            matmul(f, Accum::Replace, m, rbm.w.as_ref(), one);
            self.hidden_field_fresh = true;
        }
        for (j, &bj) in rbm.b.iter().enumerate() {
            let bj = bj.as_f64();
            let (m, f) = (col(&self.hid.m, j, ps), col(&self.hid.f, j, ps));
            for ((g, &x), &fx) in out.iter_mut().zip(m).zip(f) {
                let x = x.as_f64();
                *g += neg_entropy(x) - (bj + fx.as_f64()) * x;
            }
        }
        // - c sum_j rhs_j (lhs W^k)_j, using `o` as scratch.
        let mut onsager = |o: &mut Vec<T>, lhs: &[T], wk: &[T], rhs: &[T], c: f64| {
            matmul(
                mat_mut(o, p, nh, ps),
                Accum::Replace,
                mat(lhs, p, nv, ps),
                mat(wk, nv, nh, nv),
                one,
            );
            for j in 0..nh {
                for ((g, &x), &y) in out.iter_mut().zip(col(rhs, j, ps)).zip(col(o, j, ps)) {
                    *g -= c * x.as_f64() * y.as_f64();
                }
            }
        };
        if k >= 2 {
            onsager(&mut self.hid.o2, &self.vis.nu, &self.w2, &self.hid.nu, 0.5);
        }
        if k >= 3 {
            let c = 2.0 / 3.0;
            onsager(&mut self.hid.o3, &self.vis.kap, &self.w3, &self.hid.kap, c);
        }
    }

    /// `grad -= d ln Z / d theta` at the current magnetizations (envelope theorem; exact at a
    /// stationary point), averaged over the particles:
    ///
    /// `grad.w -= (Mv^T Mh + W o (Nv^T Nh) + 2 (W o W) o (Kv^T Kh)) / P`,
    /// `grad.a -= mean(Mv)`, `grad.b -= mean(Mh)` (second term from order 2, third at order 3).
    /// 1-3 GEMMs accumulated with `alpha = -1/P`; the scratch matrices are allocated on the
    /// first call only.
    pub fn subtract_gradient(&mut self, rbm: &Rbm<T>, grad: &mut Gradient<T>) {
        self.check_model(rbm);
        let (k, p, ps, nv, nh) = (self.order.k(), self.p, self.ps, self.nv, self.nh);
        assert!(p > 0, "no particles");
        assert_eq!((grad.w.nrows(), grad.w.ncols()), (nv, nh), "gradient shape");
        let scale = T::of(-1.0 / p as f64);
        let (mv, mh) = (mat(&self.vis.m, p, nv, ps), mat(&self.hid.m, p, nh, ps));
        matmul(grad.w.as_mut(), Accum::Add, mv.transpose(), mh, scale);
        if k >= 2 {
            self.tn.resize(nv * nh, T::of(0.0));
            let (a, b) = (mat(&self.vis.nu, p, nv, ps), mat(&self.hid.nu, p, nh, ps));
            matmul(
                mat_mut(&mut self.tn, nv, nh, nv),
                Accum::Replace,
                a.transpose(),
                b,
                scale,
            );
        }
        if k >= 3 {
            self.tk.resize(nv * nh, T::of(0.0));
            let (a, b) = (mat(&self.vis.kap, p, nv, ps), mat(&self.hid.kap, p, nh, ps));
            matmul(
                mat_mut(&mut self.tk, nv, nh, nv),
                Accum::Replace,
                a.transpose(),
                b,
                scale,
            );
        }
        if k >= 2 {
            let parts = if nv * nh >= PAR_MIN { PARTS } else { 1 };
            let block = GradBlock {
                g: grad.w.as_mut(),
                w: rbm.w.as_ref(),
                tn: &self.tn,
                w2: if k >= 3 { &self.w2 } else { &[] },
                tk: &self.tk,
            };
            par_blocks(block, parts, &|mut b: GradBlock<'_, T>| {
                for j in 0..b.g.ncols() {
                    let g =
                        b.g.rb_mut()
                            .col_mut(j)
                            .try_as_col_major_mut()
                            .expect("contiguous");
                    onsager_gradient_column(
                        k,
                        col_slice(b.w, j),
                        col(b.tn, j, nv),
                        col(b.w2, j, nv),
                        col(b.tk, j, nv),
                        g.as_slice_mut(),
                    );
                }
            });
        }
        let inv = 1.0 / p as f64;
        for (i, g) in grad.a.iter_mut().enumerate() {
            *g = T::of(g.as_f64() - column_sum(&col(&self.vis.m, i, ps)[..p]) * inv);
        }
        for (j, g) in grad.b.iter_mut().enumerate() {
            *g = T::of(g.as_f64() - column_sum(&col(&self.hid.m, j, ps)[..p]) * inv);
        }
    }
}

/// `G_k(mv, mh)` of each row pair (allocates a solver; for repeated use keep a [`TapSolver`]).
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat, tap::{gibbs_free_energy, TapOrder}};
/// // W = 0 and m = s(a), s(b): G_k = -ln Z = -(sum sp(a) + sum sp(b)) at every order.
/// let mut rbm = Rbm::<f64>::zeros(2, 1).unwrap();
/// rbm.a = vec![0.3, -1.2];
/// rbm.b = vec![0.7];
/// let s = |x: f64| 1.0 / (1.0 + (-x).exp());
/// let sp = |x: f64| (1.0 + x.exp()).ln();
/// let mv = Mat::from_fn(1, 2, |_, i| s(rbm.a[i]));
/// let mh = Mat::from_fn(1, 1, |_, _| s(0.7));
/// let g = gibbs_free_energy(&rbm, TapOrder::Tap3, mv.as_ref(), mh.as_ref());
/// assert!((g[0] + sp(0.3) + sp(-1.2) + sp(0.7)).abs() < 1e-12);
/// ```
pub fn gibbs_free_energy<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    mv: MatRef<'_, T>,
    mh: MatRef<'_, T>,
) -> Vec<f64> {
    let mut solver = TapSolver::new(order, rbm.n_visible(), rbm.n_hidden());
    solver.refresh(rbm);
    solver.set_magnetizations(mv, mh);
    solver.free_energy(rbm)
}

/// A TAP estimate of `ln Z` (see [`log_partition`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TapEstimate {
    /// `-G_k(m*)` at the lowest-`G_k` converged fixed point (the largest `-G_k`); if no particle
    /// converged, over all particles (then `n_converged == 0`).
    pub ln_z: f64,
    /// Particles whose last sweep changed no unit by more than the tolerance.
    pub n_converged: usize,
    /// Particles started (rows given).
    pub n_particles: usize,
    /// Largest final per-particle residual.
    pub max_residual: f64,
}

/// `ln Z ~ -G_k(m*)`: solves the stationarity equations from every row of `starts` (particles
/// initialised as `mv = v`, `mh = s(b + W^T v)`), and returns `-G_k` at the LOWEST `G_k` among
/// the fixed points that converged (`max |dm| <= opts.tolerance` in their last sweep), i.e. the
/// largest estimate. Different rows can reach different fixed points; the lowest free energy
/// is the dominant one (and for naive mean field, where `-G_1(m) <= ln Z` for every `m`, the
/// tightest lower bound). Rows are processed in chunks of [`ESTIMATE_CHUNK`].
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::tap::{log_partition, SolverOptions, TapOrder};
/// let mut rbm = Rbm::<f64>::zeros(3, 2).unwrap();
/// rbm.a = vec![0.5, -1.0, 2.0];
/// let sp = |x: f64| (1.0 + x.exp()).ln();
/// let exact = sp(0.5) + sp(-1.0) + sp(2.0) + 2.0 * sp(0.0);
/// let starts = Mat::<f64>::zeros(4, 3);
/// let est = log_partition(&rbm, TapOrder::Tap2, starts.as_ref(), &SolverOptions::converged()).unwrap();
/// assert_eq!(est.n_converged, 4);
/// assert!((est.ln_z - exact).abs() < 1e-12);
/// ```
pub fn log_partition<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    starts: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<TapEstimate> {
    opts.validate()?;
    check_rows(rbm, starts)?;
    let mut solver = TapSolver::new(order, rbm.n_visible(), rbm.n_hidden());
    solver.refresh(rbm);
    let mut best_conv = f64::NEG_INFINITY;
    let mut best_all = f64::NEG_INFINITY;
    let mut n_converged = 0;
    let mut max_residual: f64 = 0.0;
    let mut g = Vec::new();
    for start in (0..starts.nrows()).step_by(ESTIMATE_CHUNK) {
        let rows = ESTIMATE_CHUNK.min(starts.nrows() - start);
        solver.init_from_visible(rbm, starts.subrows(start, rows));
        solver.solve(rbm, opts);
        g.resize(rows, 0.0);
        solver.free_energy_into(rbm, &mut g);
        for (&gi, &ri) in g.iter().zip(solver.residuals()) {
            best_all = best_all.max(-gi);
            max_residual = max_nan(max_residual, ri);
            if ri <= opts.tolerance {
                n_converged += 1;
                best_conv = best_conv.max(-gi);
            }
        }
    }
    Ok(TapEstimate {
        ln_z: if n_converged > 0 { best_conv } else { best_all },
        n_converged,
        n_particles: starts.nrows(),
        max_residual,
    })
}

fn check_rows<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>) -> Result<()> {
    if data.ncols() != rbm.n_visible() {
        return Err(Error::Shape(format!(
            "rows have {} entries but the model has {} visible units",
            data.ncols(),
            rbm.n_visible()
        )));
    }
    if data.nrows() == 0 {
        return Err(Error::Shape("no rows given".into()));
    }
    Ok(())
}

/// The paper's EMF log-likelihood of each row, `l(v) = -F(v) + G_2(m*)` with `m*` the TAP2
/// fixed point started at the sample itself (`mv = v`, `mh = s(b + W^T v)`) and iterated with
/// `opts` (the paper: [`SolverOptions::paper`], 3 damped sweeps). Not a bound; cheap.
/// Divide by `n_visible + n_hidden` for the paper's per-unit figure
/// ([`emf_log_likelihood_per_unit`]).
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::tap::{emf_log_likelihood, SolverOptions};
/// // W = 0: G2(m*) = -ln Z exactly, so l(v) is the exact log-likelihood.
/// let mut rbm = Rbm::<f64>::zeros(2, 3).unwrap();
/// rbm.a = vec![1.0, -0.5];
/// let v = Mat::from_fn(1, 2, |_, i| i as f64);       // v = (0, 1)
/// let l = emf_log_likelihood(&rbm, v.as_ref(), &SolverOptions::converged()).unwrap();
/// let sp = |x: f64| (1.0 + x.exp()).ln();
/// let exact = -0.5 - sp(1.0) - sp(-0.5);
/// assert!((l[0] - exact).abs() < 1e-12);
/// ```
pub fn emf_log_likelihood<T: Float>(
    rbm: &Rbm<T>,
    data: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<Vec<f64>> {
    emf_log_likelihood_with(rbm, TapOrder::Tap2, data, opts)
}

/// [`emf_log_likelihood`] divided by `n_visible + n_hidden` (the paper's normalisation).
pub fn emf_log_likelihood_per_unit<T: Float>(
    rbm: &Rbm<T>,
    data: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<Vec<f64>> {
    let units = (rbm.n_visible() + rbm.n_hidden()) as f64;
    let mut l = emf_log_likelihood(rbm, data, opts)?;
    l.iter_mut().for_each(|x| *x /= units);
    Ok(l)
}

/// `l(v) = -F(v) + G_k(m*)` at any order (the paper uses [`TapOrder::Tap2`]).
pub fn emf_log_likelihood_with<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    data: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<Vec<f64>> {
    opts.validate()?;
    check_rows(rbm, data)?;
    let mut out = rbm.free_energy(data);
    out.iter_mut().for_each(|x| *x = -*x);
    let mut solver = TapSolver::new(order, rbm.n_visible(), rbm.n_hidden());
    solver.refresh(rbm);
    let mut g = Vec::new();
    for start in (0..data.nrows()).step_by(ESTIMATE_CHUNK) {
        let rows = ESTIMATE_CHUNK.min(data.nrows() - start);
        solver.init_from_visible(rbm, data.subrows(start, rows));
        solver.solve(rbm, opts);
        g.resize(rows, 0.0);
        solver.free_energy_into(rbm, &mut g);
        for (o, gi) in out[start..start + rows].iter_mut().zip(&g) {
            *o += gi;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_exp_and_sigmoid_are_accurate() {
        let mut worst: f64 = 0.0;
        let mut x = -87.0f32;
        while x < 88.0 {
            let e = (x as f64).exp();
            worst = worst.max((exp_f32(x) as f64 - e).abs() / e);
            x += 0.0137;
        }
        assert!(worst < 4e-7, "exp_f32 worst relative error {worst}");
        let mut x = -30.0f32;
        while x < 30.0 {
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            let got = sigmoid_f32(x) as f64;
            assert!(
                (got - s).abs() / s < 5e-7,
                "sigmoid_f32({x}) = {got} vs {s}"
            );
            x += 0.0071;
        }
        assert_eq!(sigmoid_f32(-1e6), sigmoid_f32(-88.0));
        assert_eq!(sigmoid_f32(1e6), 1.0);
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }
}
