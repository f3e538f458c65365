//! `emf-rbm sample`.

use std::path::PathBuf;

use clap::Args;

use emf_rbm::faer::Mat;
use emf_rbm::output::OutputPlan;
use emf_rbm::plot::Mosaic;
use emf_rbm::{persist, rng, Error, GibbsSampler, Result};

/// Arguments of `sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Model file.
    pub model: PathBuf,
    /// Number of independent chains (images in the mosaic; a PNG mosaic is at most 32768
    /// pixels a side, and the chains' memory is checked against EMF_RBM_MAX_MEMORY).
    #[arg(long, default_value_t = 64)]
    pub chains: usize,
    /// Gibbs steps per chain.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Image shape ROWSxCOLS (default: square when n_visible is a square).
    #[arg(long)]
    pub shape: Option<String>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Show the final mean-field P(v|h) instead of binary samples.
    #[arg(long)]
    pub means: bool,
    /// Output PNG (or SVG).
    #[arg(long, default_value = "samples.png")]
    pub out: PathBuf,
}

fn parse_shape(s: &str) -> Option<(usize, usize)> {
    let (r, c) = s.split_once('x')?;
    Some((r.trim().parse().ok()?, c.trim().parse().ok()?))
}

/// Runs `sample`.
pub fn run(a: &SampleArgs) -> Result<()> {
    OutputPlan::new().input(&a.model).file(&a.out).check()?;
    let rbm = persist::load_rbm(&a.model)?;
    let nv = rbm.n_visible();
    let shape = match &a.shape {
        Some(s) => parse_shape(s).ok_or_else(|| {
            Error::param(
                "shape",
                format!("expected ROWSxCOLS such as 28x28, got `{s}`"),
            )
        })?,
        None => {
            let r = (nv as f64).sqrt().round() as usize;
            if r * r == nv {
                (r, r)
            } else {
                (1, nv)
            }
        }
    };
    if shape.0 * shape.1 != nv {
        return Err(Error::param(
            "shape",
            format!(
                "{}x{} does not match the model's {nv} visible units",
                shape.0, shape.1
            ),
        ));
    }
    if a.chains == 0 {
        return Err(Error::param("chains", "must be >= 1"));
    }
    let png = a
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if png {
        emf_rbm::plot::check_png(&a.out, Mosaic::planned_size(a.chains, shape))?;
    }
    let mut r = rng::rng(a.seed);
    let mut chains = GibbsSampler::try_new(&rbm, a.chains)?;
    let start = Mat::<f64>::from_fn(a.chains, nv, |_, i| emf_rbm::linalg::sigmoid(rbm.a[i]));
    chains.set_visible_sampled(start.as_ref(), &mut r);
    chains.run(&rbm, a.steps, &mut r);
    let v = if a.means {
        chains.visible_probs().to_owned()
    } else {
        chains.visible().to_owned()
    };
    let title = format!("{} Gibbs samples after {} steps", a.chains, a.steps);
    Mosaic::images(v.as_ref(), shape, &title)?.save(&a.out)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
