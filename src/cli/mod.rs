//! Command-line interface: argument parsing and dispatch. Each subcommand lives in its own
//! file and calls the library.

use clap::{Parser, Subcommand};

use emf_rbm::Result;

pub mod common;
pub mod compare;
pub mod couplings;
pub mod demo;
pub mod eval;
pub mod fixed_points;
pub mod ising;
pub mod npz;
pub mod sample;
pub mod stack;
pub mod train;
pub mod training;

/// Restricted Boltzmann Machines trained by extended mean field (TAP) or CD/PCD, and the
/// renormalized visible Hamiltonian they learn.
#[derive(Parser, Debug)]
#[command(
    name = "emf-rbm",
    version,
    about,
    propagate_version = true,
    after_help = "Environment: EMF_RBM_MAX_MEMORY caps the memory a request may need (default \
                  8G; e.g. 16G, 512M, a byte count, or unlimited). Requests above it (--hidden, \
                  --tap-starts, --chains, ising --size, a data file or its decompressed gzip \
                  content) are refused with the estimate before any work."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The main job: compare training methods on the built-in digits (exact likelihoods, plots).
    Demo(demo::DemoArgs),
    /// Train several methods on the same data, seed and budget; tables and plots.
    Compare(compare::CompareArgs),
    /// Train an RBM on a data set and save it.
    Train(train::TrainArgs),
    /// Metrics of a saved model (on a data set when one is given).
    Eval(eval::EvalArgs),
    /// The distinct TAP fixed points of a model: free energy, kind (minimum or saddle), basin,
    /// nearest data row; ln Z from the whole set next to the best single point.
    FixedPoints(fixed_points::FixedPointsArgs),
    /// Export a model's W, a, b to an NPZ archive (for numpy).
    Export(npz::ExportArgs),
    /// Import W, a, b from an NPZ archive as a model file.
    Import(npz::ImportArgs),
    /// Draw Gibbs samples from a model into a PNG mosaic.
    Sample(sample::SampleArgs),
    /// Sample the 2D Ising model (Wolff + Metropolis) into an IDX data set.
    Ising(ising::IsingArgs),
    /// Many-body couplings of a model's effective visible (or hidden) Hamiltonian.
    Couplings(couplings::CouplingsArgs),
    /// Stacked RBMs: greedy layer-wise training, per-layer free energies, RG-flow observables
    /// (the Mehta-Schwab experiment on 2D Ising data).
    Stack(stack::StackArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(&a),
        Command::Train(a) => train::run(&a),
        Command::Compare(a) => compare::run(&a),
        Command::Eval(a) => eval::run(&a),
        Command::FixedPoints(a) => fixed_points::run(&a),
        Command::Export(a) => npz::run_export(&a),
        Command::Import(a) => npz::run_import(&a),
        Command::Sample(a) => sample::run(&a),
        Command::Ising(a) => ising::run(&a),
        Command::Couplings(a) => couplings::run(&a),
        Command::Stack(a) => stack::run(&a),
    }
}
