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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
}

impl Section {
    /// Every section, in display order.
    pub const ALL: [Section; 5] = [
        Section::Gemm,
        Section::Elementwise,
        Section::Random,
        Section::Step,
        Section::Copy,
    ];

    /// A short lower-case name (`gemm`, `elementwise`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Section::Gemm => "gemm",
            Section::Elementwise => "elementwise",
            Section::Random => "random",
            Section::Step => "step",
            Section::Copy => "copy",
        }
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static NANOS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static GEMM_FLOPS: AtomicU64 = AtomicU64::new(0);

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
}

/// The counters since the last [`reset`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Split {
    /// Nanoseconds per [`Section`] (in [`Section::ALL`] order).
    pub nanos: [u64; 5],
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

/// [`timed`] for a GEMM of `flops` operations.
#[inline]
pub(crate) fn timed_gemm<R>(flops: u64, f: impl FnOnce() -> R) -> R {
    if !ENABLED.load(Ordering::Relaxed) {
        return f();
    }
    GEMM_FLOPS.fetch_add(flops, Ordering::Relaxed);
    timed(Section::Gemm, f)
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
