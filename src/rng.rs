//! Seeded randomness. One portable generator (ChaCha8) everywhere; parallel work draws from
//! streams derived from `(seed, stream index)`, so results never depend on the thread count.

use rand::SeedableRng;

/// The crate's random number generator: ChaCha8, portable and reproducible across platforms.
pub type Rng = rand_chacha::ChaCha8Rng;

/// A generator seeded from `seed` (stream 0).
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// An independent generator for chunk/run number `stream` of the work seeded by `seed`.
pub fn stream_rng(seed: u64, stream: u64) -> Rng {
    let mut r = Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Fills `out` with uniform draws in `[0, 1)` of type `T`.
pub fn fill_uniform<T: crate::Float>(rng: &mut Rng, out: &mut [T]) {
    use rand::Rng as _;
    for u in out.iter_mut() {
        *u = T::of(rng.random::<f64>());
    }
}
