//! Exact results of the infinite square lattice (Onsager 1944, Yang 1952): the limits that a
//! finite torus approaches as `L -> oo`. For samples of a finite lattice compare with
//! [`super::exact`] instead; the two differ by finite-size terms that are large near `T_c`.

/// The critical coupling `K_c = ln(1 + sqrt 2) / 2`.
pub const CRITICAL_COUPLING: f64 = 0.440_686_793_509_771_5;
/// The critical temperature `T_c = 1 / K_c = 2.2691853...`.
pub const CRITICAL_TEMPERATURE: f64 = 2.269_185_314_213_022;

/// Complete elliptic integral of the first kind `K(k) = int_0^{pi/2} dt / sqrt(1 - k^2 sin^2 t)`,
/// by the arithmetic-geometric mean `K(k) = pi / (2 AGM(1, sqrt(1 - k^2)))` (quadratically
/// convergent; exact to rounding, including near the logarithmic singularity at `k -> 1`).
///
/// ```
/// let k0 = emf_rbm::ising::elliptic_k(0.0);
/// assert!((k0 - std::f64::consts::FRAC_PI_2).abs() < 1e-15);
/// ```
pub fn elliptic_k(k: f64) -> f64 {
    let mut a = 1.0f64;
    let mut g = (1.0 - k * k).max(0.0).sqrt();
    for _ in 0..60 {
        let an = 0.5 * (a + g);
        let gn = (a * g).sqrt();
        if (an - gn).abs() <= 1e-16 * an {
            a = an;
            break;
        }
        a = an;
        g = gn;
    }
    std::f64::consts::PI / (2.0 * a)
}

/// Exact energy per site of the infinite square-lattice Ising model at temperature `t`
/// (`J = k_B = 1`), Onsager:
/// `u = -coth(2K) [1 + (2/pi) (2 tanh^2(2K) - 1) K(kappa)]`, `kappa = 2 sinh(2K) / cosh^2(2K)`,
/// `K = 1/t`. At `T_c` the product is `0 * inf` and `u = -sqrt 2`.
///
/// ```
/// use emf_rbm::ising::{exact_energy_per_site, CRITICAL_TEMPERATURE};
/// assert!((exact_energy_per_site(CRITICAL_TEMPERATURE) + 2f64.sqrt()).abs() < 1e-9);
/// ```
pub fn exact_energy_per_site(t: f64) -> f64 {
    let k = 1.0 / t;
    let c = (2.0 * k).cosh();
    let kappa = 2.0 * (2.0 * k).sinh() / (c * c);
    let th = (2.0 * k).tanh();
    let f = 2.0 * th * th - 1.0;
    let coth = 1.0 / th;
    if f.abs() < 1e-14 {
        return -coth;
    }
    -coth * (1.0 + 2.0 / std::f64::consts::PI * f * elliptic_k(kappa.min(1.0)))
}

/// Exact spontaneous magnetization per site of the infinite lattice (Onsager, Yang):
/// `(1 - sinh(2/t)^-4)^(1/8)` below `T_c`, 0 above.
///
/// ```
/// assert_eq!(emf_rbm::ising::exact_magnetization(3.0), 0.0);
/// ```
pub fn exact_magnetization(t: f64) -> f64 {
    let k = 1.0 / t;
    if k <= CRITICAL_COUPLING {
        return 0.0;
    }
    let s = (2.0 * k).sinh();
    (1.0 - s.powi(-4)).max(0.0).powf(0.125)
}
