//! 64-bit fingerprints of training data and model weights, recorded in model files to tell
//! which data a model was trained on and to detect a damaged weight on load.
//!
//! [`Fingerprint`] applies FNV-1a's step (`h = (h ^ x) * 0x100000001b3`, offset basis
//! `0xcbf29ce484222325`) to 64-bit words rather than bytes (eight times fewer steps on a large
//! data set): every value as its IEEE-754 bits, every length as a word. It is a fingerprint,
//! not a security hash: it catches accidental changes (a different data set, a corrupted or
//! hand-edited weight), not a deliberate forgery.
//!
//! ```
//! use emf_rbm::fingerprint::Fingerprint;
//! let mut a = Fingerprint::new();
//! a.add_f64s(&[0.0, 1.0, 0.5]);
//! let mut b = Fingerprint::new();
//! b.add_f64s(&[0.0, 1.0, 0.25]);
//! assert_ne!(a.value(), b.value());
//! assert_eq!(a.hex().len(), 16);
//! ```

/// FNV's 64-bit offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV's 64-bit prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running 64-bit fingerprint (see the [module](self) documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Self {
        Self::new()
    }
}

impl Fingerprint {
    /// The empty fingerprint (FNV's offset basis).
    pub fn new() -> Self {
        Fingerprint(OFFSET_BASIS)
    }

    /// Adds one 64-bit word.
    pub fn add_u64(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(PRIME);
    }

    /// Adds a length or count.
    pub fn add_len(&mut self, n: usize) {
        self.add_u64(n as u64);
    }

    /// Adds the length of `values`, then each value's bits (`-0.0` and `0.0` differ).
    pub fn add_f64s(&mut self, values: &[f64]) {
        self.add_len(values.len());
        for x in values {
            self.add_u64(x.to_bits());
        }
    }

    /// The fingerprint so far.
    pub fn value(&self) -> u64 {
        self.0
    }

    /// The fingerprint as 16 lower-case hex digits (the form stored in files).
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}
