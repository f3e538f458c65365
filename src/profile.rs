//! Opt-in time split of the hot paths, for benches and profiling sessions: wall time spent in
//! GEMMs (with their floating-point operation count), elementwise passes, random numbers,
//! parameter steps and data copies, summed over every call since the last [`reset`].
//!
//! Off by default: then each instrumented call costs one relaxed atomic load. When on
//! ([`enable`]), each costs two clock reads, negligible next to the work it wraps. Sections are
//! timed on the thread that issues the work (GEMMs and the parallel passes spread over rayon's
//! threads inside one section), so the sections never overlap and their sum is at most the
//! wall time of the work; [`Split::other_seconds`] is the rest.
//!
//! ```
//! use emf_rbm::profile;
//! use emf_rbm::{faer::Mat, Rbm};
//!
//! let rbm = Rbm::<f64>::zeros(784, 500)?;
//! let v = Mat::<f64>::zeros(100, 784);
//! let mut h = Mat::<f64>::zeros(100, 500);
//! profile::enable(true);
//! profile::reset();
//! rbm.hidden_probs_into(v.as_ref(), h.as_mut());
//! let split = profile::snapshot();
//! profile::enable(false);
//! assert_eq!(split.gemm_flops, 2 * 100 * 784 * 500);
//! assert!(split.seconds(profile::Section::Gemm) > 0.0);
//! # Ok::<(), emf_rbm::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// What a timed section does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Matrix products (faer GEMM).
    Gemm,
    /// Elementwise passes: bias + sigmoid (+ Bernoulli draw), TAP unit updates, `W o W`.
    Elementwise,
    /// Uniform random numbers.
    Random,
    /// The optimiser's parameter step (with the divergence checks).
    Step,
    /// Copies: minibatch gathering, column means, buffer copies.
    Copy,
    /// Sparse products ([`crate::linalg::sparse`]): indexing the nonzeros, the row copies
    /// they read, the products.
    Sparse,
}

impl Section {
    /// Every section, in display order.
    pub const ALL: [Section; 6] = [
        Section::Gemm,
        Section::Elementwise,
        Section::Random,
        Section::Step,
        Section::Copy,
        Section::Sparse,
    ];

    /// A short lower-case name (`gemm`, `elementwise`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Section::Gemm => "gemm",
            Section::Elementwise => "elementwise",
            Section::Random => "random",
            Section::Step => "step",
            Section::Copy => "copy",
            Section::Sparse => "sparse",
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static NANOS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
static GEMM_FLOPS: AtomicU64 = AtomicU64::new(0);
static GEMM_SHAPES: Mutex<BTreeMap<GemmShape, GemmCalls>> = Mutex::new(BTreeMap::new());

/// The calls of one GEMM shape since the last [`reset`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GemmCalls {
    /// Number of calls.
    pub calls: u64,
    /// Their total wall time in nanoseconds.
    pub nanos: u64,
}

/// The shape and operand layout of a GEMM `dst (m x n) (+)= lhs (m x k) rhs (k x n)`, as
/// recorded by the counters: enough to time a plain GEMM of the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GemmShape {
    /// Rows of the output.
    pub m: usize,
    /// Columns of the output.
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// `lhs` is a transposed view (row-major) rather than column-major.
    pub lhs_transposed: bool,
    /// `rhs` is a transposed view (row-major) rather than column-major.
    pub rhs_transposed: bool,
    /// The product is added to the output (`Accum::Add`) rather than replacing it.
    pub accumulate: bool,
}

impl GemmShape {
    /// `2 m n k`.
    pub fn flops(&self) -> u64 {
        2 * (self.m * self.n * self.k) as u64
    }
}

/// `m x n x k` and the layout: `100 x 500 x 784, lhs^T, +=`.
impl std::fmt::Display for GemmShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} x {} x {}", self.m, self.n, self.k)?;
        for (on, what) in [
            (self.lhs_transposed, ", lhs^T"),
            (self.rhs_transposed, ", rhs^T"),
            (self.accumulate, ", +="),
        ] {
            if on {
                f.write_str(what)?;
            }
        }
        Ok(())
    }
}

/// Turns the counters on or off (process-wide).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// True when the counters are on.
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Zeroes the counters.
pub fn reset() {
    NANOS.iter().for_each(|n| n.store(0, Ordering::Relaxed));
    GEMM_FLOPS.store(0, Ordering::Relaxed);
    if let Ok(mut m) = GEMM_SHAPES.lock() {
        m.clear();
    }
}

/// The GEMMs counted since the last [`reset`]: each shape with its calls and their time.
pub fn gemm_shapes() -> Vec<(GemmShape, GemmCalls)> {
    GEMM_SHAPES
        .lock()
        .map(|m| m.iter().map(|(s, c)| (*s, *c)).collect())
        .unwrap_or_default()
}

/// The counters since the last [`reset`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Split {
    /// Nanoseconds per [`Section`] (in [`Section::ALL`] order).
    pub nanos: [u64; 6],
    /// Floating-point operations of the GEMMs (`2 m n k` each).
    pub gemm_flops: u64,
}

impl Split {
    /// Seconds spent in `section`.
    pub fn seconds(&self, section: Section) -> f64 {
        self.nanos[section as usize] as f64 * 1e-9
    }

    /// Seconds in all sections.
    pub fn timed_seconds(&self) -> f64 {
        self.nanos.iter().sum::<u64>() as f64 * 1e-9
    }

    /// `total - timed_seconds()`: the time outside every section (bookkeeping, small loops).
    pub fn other_seconds(&self, total: f64) -> f64 {
        total - self.timed_seconds()
    }

    /// GEMM rate achieved inside the GEMM sections (GFLOP/s).
    pub fn gemm_gflops(&self) -> f64 {
        self.gemm_flops as f64 / self.seconds(Section::Gemm).max(1e-12) * 1e-9
    }

    /// One line per section with its seconds and share of `total` wall seconds, `other` for
    /// the rest, then the GEMMs' work and rate.
    ///
    /// ```
    /// use emf_rbm::profile::Split;
    /// let split = Split { nanos: [3_000_000_000, 0, 0, 0, 1_000_000_000, 0], gemm_flops: 6_000_000_000 };
    /// let text = split.summary(5.0);
    /// assert!(text.contains("gemm          3.000 s   60.0 %"));
    /// assert!(text.contains("other         1.000 s   20.0 %"));
    /// assert!(text.contains("6.000 GFLOP at 2.0 GFLOP/s"));
    /// ```
    pub fn summary(&self, total: f64) -> String {
        let pct = |s: f64| 100.0 * s / total.max(1e-12);
        let mut out = String::new();
        let other = self.other_seconds(total);
        let rows = Section::ALL
            .iter()
            .map(|&s| (s.name(), self.seconds(s)))
            .chain([("other", other)]);
        for (name, s) in rows {
            out.push_str(&format!("{name:<11} {s:>7.3} s {:>6.1} %\n", pct(s)));
        }
        out.push_str(&format!(
            "GEMMs: {:.3} GFLOP at {:.1} GFLOP/s",
            self.gemm_flops as f64 * 1e-9,
            self.gemm_gflops()
        ));
        out
    }
}

/// The counters now.
pub fn snapshot() -> Split {
    let mut s = Split {
        gemm_flops: GEMM_FLOPS.load(Ordering::Relaxed),
        ..Split::default()
    };
    for (o, n) in s.nanos.iter_mut().zip(&NANOS) {
        *o = n.load(Ordering::Relaxed);
    }
    s
}

/// Runs `f`, adding its wall time to `section` when the counters are on.
#[inline]
pub(crate) fn timed<R>(section: Section, f: impl FnOnce() -> R) -> R {
    if !ENABLED.load(Ordering::Relaxed) {
        return f();
    }
    let t = Instant::now();
    let r = f();
    NANOS[section as usize].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    r
}

/// [`timed`] for a GEMM of this shape.
#[inline]
pub(crate) fn timed_gemm<R>(shape: impl FnOnce() -> GemmShape, f: impl FnOnce() -> R) -> R {
    if !ENABLED.load(Ordering::Relaxed) {
        return f();
    }
    let shape = shape();
    GEMM_FLOPS.fetch_add(shape.flops(), Ordering::Relaxed);
    let t = Instant::now();
    let r = timed(Section::Gemm, f);
    let nanos = t.elapsed().as_nanos() as u64;
    if let Ok(mut m) = GEMM_SHAPES.lock() {
        let e = m.entry(shape).or_default();
        e.calls += 1;
        e.nanos += nanos;
    }
    r
}

/// A guard adding the wall time from its creation to its drop to a section (when the counters
/// were on at creation).
pub(crate) struct Timer {
    section: Section,
    start: Option<Instant>,
}

impl Timer {
    /// Starts timing `section`.
    #[inline]
    pub(crate) fn new(section: Section) -> Self {
        let start = ENABLED.load(Ordering::Relaxed).then(Instant::now);
        Timer { section, start }
    }
}

impl Drop for Timer {
    #[inline]
    fn drop(&mut self) {
        if let Some(t) = self.start {
            NANOS[self.section as usize]
                .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    }
}
