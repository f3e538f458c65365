//! Seeded randomness. One portable generator (ChaCha8) everywhere; parallel work draws from
//! streams derived from `(seed, stream index)`, so results never depend on the thread count.

use rand::SeedableRng;

use crate::linalg::kernels;

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

/// Fills `out` with uniform draws in `[0, 1)` of type `T`: the numbers `rng.random::<f64>()`
/// would give one at a time (rounded to `T`), drawn in bulk (the generator fills 64-bit words
/// blockwise, [`kernels::uniform_from_bits`] converts them vectorised). Long fills are split
/// over threads at fixed positions of the stream, so the numbers do not depend on the thread
/// count.
///
/// ```
/// use rand::Rng as _;
/// let (mut a, mut b) = (emf_rbm::rng::rng(7), emf_rbm::rng::rng(7));
/// let mut u = vec![0.0f64; 1000];
/// emf_rbm::rng::fill_uniform(&mut a, &mut u);
/// assert!(u.iter().all(|&x| x == b.random::<f64>()));
/// ```
pub fn fill_uniform<T: crate::Float>(rng: &mut Rng, out: &mut [T]) {
    use rayon::prelude::*;
    crate::profile::timed(crate::profile::Section::Random, || {
        if out.len() < 2 * PARALLEL_DRAWS || rayon::current_num_threads() < 2 {
            fill_uniform_serial(rng, out);
            return;
        }
        // Chunk k holds the draws from word position start + 2 k PARALLEL_DRAWS of the
        // same stream (a draw takes two 32-bit words): the numbers a serial fill gives,
        // whatever the number of threads.
        let start = rng.get_word_pos();
        let base = rng.clone();
        out.par_chunks_mut(PARALLEL_DRAWS)
            .enumerate()
            .for_each(|(k, chunk)| {
                let mut r = base.clone();
                r.set_word_pos(start + 2 * (k * PARALLEL_DRAWS) as u128);
                fill_uniform_serial(&mut r, chunk);
            });
        rng.set_word_pos(start + 2 * out.len() as u128);
    });
}

/// Draws per parallel task of [`fill_uniform`].
const PARALLEL_DRAWS: usize = 16_384;

fn fill_uniform_serial<T: crate::Float>(rng: &mut Rng, out: &mut [T]) {
    use rand::Rng as _;
    const CHUNK: usize = 512;
    let mut words = [0u64; CHUNK];
    for chunk in out.chunks_mut(CHUNK) {
        let bits = &mut words[..chunk.len()];
        rng.fill(bits);
        kernels::uniform_from_bits(bits, chunk);
    }
}
