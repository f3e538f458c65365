//! `emf-rbm export` and `emf-rbm import` (NPZ archives with arrays W, a, b).

use std::path::PathBuf;

use clap::Args;

use emf_rbm::output::OutputPlan;
use emf_rbm::persist::{self, ModelFile};
use emf_rbm::Result;

use super::common::{describe_output, output_file, write_model};

/// Arguments of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Model file.
    pub model: PathBuf,
    /// Output NPZ file (arrays `W` of shape n_visible x n_hidden, `a`, `b`; float64).
    #[arg(long)]
    pub npz: PathBuf,
}

/// Arguments of `import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Input NPZ file with arrays `W` (n_visible x n_hidden), `a`, `b`.
    #[arg(long)]
    pub npz: PathBuf,
    /// Output model file (`-`: standard output).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `export`.
pub fn run_export(a: &ExportArgs) -> Result<()> {
    OutputPlan::new().input(&a.model).file(&a.npz).check()?;
    let rbm = persist::load_rbm(&a.model)?;
    persist::export_npz(&a.npz, &rbm)?;
    eprintln!(
        "wrote {} (W {} x {}, a, b)",
        a.npz.display(),
        rbm.n_visible(),
        rbm.n_hidden()
    );
    Ok(())
}

/// Runs `import`.
pub fn run_import(a: &ImportArgs) -> Result<()> {
    output_file(OutputPlan::new().input(&a.npz), &a.out).check()?;
    let rbm = persist::import_npz(&a.npz)?;
    let mut file = ModelFile::new(&rbm, None);
    file.source = Some(format!("imported from {}", a.npz.display()));
    write_model(&a.out, &file)?;
    eprintln!(
        "wrote {} ({} visible x {} hidden)",
        describe_output(&a.out),
        rbm.n_visible(),
        rbm.n_hidden()
    );
    Ok(())
}
