//! The built-in UCI optdigits data (scikit-learn's `load_digits`): 1797 8x8 images of
//! handwritten digits, counts 0..16 scaled to [0, 1] by dividing by 16, with labels.
//! Source and attribution: `data/README.md` at the repository root.

use std::path::Path;
use std::sync::OnceLock;

use crate::data::dataset::Dataset;
use crate::data::idx::{decode_images, decode_labels};

static IMAGES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/optdigits-images-idx3-ubyte"
));
static LABELS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/optdigits-labels-idx1-ubyte"
));

/// The divisor of the optdigits counts (16 = all 16 pixels of a 4x4 block on).
pub const DIGITS_SCALE: f64 = 16.0;

fn parse() -> Dataset {
    let path = Path::new("<built-in digits>");
    // The embedded bytes are fixed at compile time and checked by the tests.
    let mut ds = decode_images(IMAGES, path, DIGITS_SCALE).expect("embedded digits images");
    let labels = decode_labels(LABELS, path).expect("embedded digits labels");
    assert_eq!(labels.len(), ds.n_samples(), "embedded digits label count");
    ds.labels = Some(labels);
    ds.with_name("digits")
}

impl Dataset {
    /// The built-in UCI optdigits set (test part, as in scikit-learn's `load_digits`):
    /// 1797 samples x 64 features (8x8 images, counts 0..16 divided by 16), labels 0..9,
    /// name `"digits"`. Parsed once, then cloned.
    pub fn digits() -> Dataset {
        static CACHE: OnceLock<Dataset> = OnceLock::new();
        CACHE.get_or_init(parse).clone()
    }
}
