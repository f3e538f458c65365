//! The periodic `L x L` Ising model written exactly as an RBM: the square lattice is bipartite,
//! so the sites with even `x + y` can be the visible units and the others the hidden ones. Its
//! `ln Z` is known exactly ([`exact_finite`](super::exact_finite)), which makes it a fixture
//! for the TAP expansions across temperature.

use faer::Mat;

use crate::error::{Error, Result};
use crate::rbm::Rbm;

/// The Ising model as an RBM, and the constant that turns the RBM's `ln Z` into the model's.
#[derive(Clone, Debug)]
pub struct IsingRbm {
    /// Visible: the sites with even `x + y` in row-major order; hidden: the odd ones.
    pub rbm: Rbm<f64>,
    /// `ln Z_Ising = ln Z_RBM + ln_z_offset` (`2 L^2 K`).
    pub ln_z_offset: f64,
}

/// The periodic `L x L` model at temperature `t` (`J = 1`, `K = 1/t`, `L` even). A bond
/// `K s s'` with `s = 2v - 1`, `s' = 2h - 1` is `4K v h - 2K v - 2K h + K`, so `W = 4K` on each
/// bond, every bias is `-8K` (four bonds per site) and `ln Z_Ising = ln Z_RBM + 2 L^2 K`.
///
/// ```
/// use emf_rbm::estimate::exact;
/// use emf_rbm::ising::{bipartite::ising_as_rbm, exact_finite};
/// let m = ising_as_rbm(4, 2.5)?;
/// let z = exact::log_partition(&m.rbm)? + m.ln_z_offset;
/// assert!((z - exact_finite(4, 2.5)?.ln_z).abs() < 1e-9);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn ising_as_rbm(l: usize, t: f64) -> Result<IsingRbm> {
    super::exact::check_size_temperature(l, t, usize::MAX, "the RBM form")?;
    if l % 2 != 0 {
        return Err(Error::param(
            "size",
            format!("the checkerboard split needs an even L, got {l}"),
        ));
    }
    let k = 1.0 / t;
    let half = l * l / 2;
    // index of site (x, y) within its colour class
    let index = |x: usize, y: usize| (y * l + x) / 2;
    let mut w = Mat::<f64>::zeros(half, half);
    for y in 0..l {
        for x in 0..l {
            if (x + y) % 2 != 0 {
                continue;
            }
            for (nx, ny) in [
                ((x + 1) % l, y),
                ((x + l - 1) % l, y),
                (x, (y + 1) % l),
                (x, (y + l - 1) % l),
            ] {
                w[(index(x, y), index(nx, ny))] += 4.0 * k;
            }
        }
    }
    let rbm = Rbm::from_parts(w, vec![-8.0 * k; half], vec![-8.0 * k; half])?;
    Ok(IsingRbm {
        rbm,
        ln_z_offset: 2.0 * (l * l) as f64 * k,
    })
}
