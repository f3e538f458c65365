//! The memory cap: every request whose size the user chooses (hidden units, chains, TAP
//! starts, lattice side, a decompressed file...) is estimated before it is allocated and
//! refused, with the figure, when it would exceed the cap.
//!
//! The cap is [`DEFAULT_LIMIT`] (8 GiB) unless the environment variable
//! `EMF_RBM_MAX_MEMORY` ([`ENV_VAR`]) says otherwise: a byte count with an optional suffix
//! `K`, `M`, `G`, `T` (powers of 1024; `GB`/`GiB` accepted), or `unlimited`.
//!
//! ```
//! use emf_rbm::memory;
//! // 10^8 hidden units x 64 visible units of f64, four such matrices: 190.7 GiB, refused.
//! let e = memory::check("the weights", memory::matrices(4, 64, 100_000_000, 8)).unwrap_err();
//! assert!(e.to_string().contains("190.7 GiB"), "{e}");
//! assert!(memory::check("a small batch", 1 << 20).is_ok());
//! ```

use crate::error::{Error, Result};

/// The environment variable that sets the cap.
pub const ENV_VAR: &str = "EMF_RBM_MAX_MEMORY";

/// The cap when [`ENV_VAR`] is not set: 8 GiB (MNIST-sized runs need well under 1 GiB).
pub const DEFAULT_LIMIT: u64 = 8 << 30;

/// The cap in bytes: [`ENV_VAR`] when set (`u64::MAX` for `unlimited`), else
/// [`DEFAULT_LIMIT`]. A malformed value is an error naming the variable.
pub fn limit() -> Result<u64> {
    match std::env::var(ENV_VAR) {
        Ok(s) => parse_size(&s).ok_or_else(|| {
            Error::param(
                ENV_VAR,
                format!(
                    "expected a byte count such as 4G, 512M or 2000000000, or `unlimited`, got `{s}`"
                ),
            )
        }),
        Err(_) => Ok(DEFAULT_LIMIT),
    }
}

/// Parses a size: digits with an optional `K`/`M`/`G`/`T` suffix (powers of 1024, an
/// optional trailing `B` or `iB`), or `unlimited`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("unlimited") || s.eq_ignore_ascii_case("none") {
        return Some(u64::MAX);
    }
    let upper = s.to_ascii_uppercase();
    let t = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 10),
        'M' => (&t[..t.len() - 1], 20),
        'G' => (&t[..t.len() - 1], 30),
        'T' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift)
}

/// Bytes of `count` matrices of `rows x cols` elements of `elem` bytes (saturating).
pub fn matrices(count: usize, rows: usize, cols: usize, elem: usize) -> u128 {
    count as u128 * rows as u128 * cols as u128 * elem as u128
}

/// A byte count for people: `47.7 GiB` (powers of 1024, one decimal).
pub fn human(bytes: u128) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    let mut v = bytes as f64;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// `Ok` when `bytes` fit under [`limit`]; else [`Error::Memory`] saying what needed how much.
pub fn check(what: impl Into<String>, bytes: u128) -> Result<()> {
    let limit = limit()?;
    if bytes <= u128::from(limit) {
        Ok(())
    } else {
        Err(Error::Memory {
            what: what.into(),
            needed: bytes,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("512mb"), Some(512 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("unlimited"), Some(u64::MAX));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1G"), None);
        assert_eq!(parse_size("99999999999T"), None);
        assert_eq!(human(51_200_000_000), "47.7 GiB");
        assert_eq!(human(u128::from(DEFAULT_LIMIT)), "8.0 GiB");
        assert_eq!(human(12), "12 bytes");
    }
}
