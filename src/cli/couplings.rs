//! `emf-rbm couplings MODEL`: the many-body couplings of a model's effective Hamiltonian.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use emf_rbm::hamiltonian::{
    Basis, CouplingReport, EffectiveHamiltonian, LatticeShape, Listing, SpinMethod,
};
use emf_rbm::output::OutputPlan;
use emf_rbm::plot::couplings::{couplings_vs_distance, pair_heatmap};
use emf_rbm::{persist, Error, Result};

/// Arguments of `couplings`.
#[derive(Args, Debug)]
pub struct CouplingsArgs {
    /// Model file.
    pub model: PathBuf,
    /// Order |S| of the couplings to list (1 = fields, 2 = pairs, 3 = triples, ...).
    #[arg(long, default_value_t = 2)]
    pub order: usize,
    /// Basis: `lattice-gas` (v in {0,1}, couplings K_S, exact and local) or `spin`
    /// (s = 2v - 1, couplings J_S, non-local; see --method).
    #[arg(long, default_value = "lattice-gas")]
    pub basis: String,
    /// List the N couplings largest in magnitude (default 20).
    #[arg(long, conflicts_with = "all")]
    pub top: Option<usize>,
    /// List every subset of that order (for small models; refused when there are too many).
    #[arg(long)]
    pub all: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// PNG (or SVG) heat map of the pair couplings; for a square number of units (a lattice or
    /// an image) also `<stem>-distance.<ext>`, the pair couplings against lattice distance.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Spin-basis method: `auto` (enumeration up to 16 units, else hybrid), `enumeration`,
    /// `convolution`, `gaussian` or `hybrid`.
    #[arg(long, default_value = "auto")]
    pub method: String,
    /// Largest hidden-unit support convolved exactly (convolution and hybrid methods).
    #[arg(long, default_value_t = 14)]
    pub max_support: usize,
    /// Quadrature tolerance of the Gaussian method.
    #[arg(long, default_value_t = 1e-10)]
    pub tol: f64,
    /// The hidden side: the Hamiltonian of the hidden units with the visible ones integrated out.
    #[arg(long)]
    pub hidden: bool,
    /// Lattice shape ROWSxCOLS for the distance plot (default: square when n is a square).
    #[arg(long)]
    pub shape: Option<String>,
    /// Periodic boundaries for lattice distances (e.g. Ising data).
    #[arg(long)]
    pub periodic: bool,
}

/// The JSON of `--json`: the model's path, then the library's report.
#[derive(Serialize)]
struct JsonReport<'a> {
    model: String,
    #[serde(flatten)]
    report: &'a CouplingReport,
}

fn parse_method(args: &CouplingsArgs, n: usize) -> Result<SpinMethod> {
    // --tol and --max-support are checked even when the chosen method does not use them.
    SpinMethod::Hybrid {
        max_support: args.max_support,
        tol: args.tol,
    }
    .validate()?;
    let m = parse_method_unchecked(args, n)?;
    m.validate()?;
    Ok(m)
}

fn parse_method_unchecked(args: &CouplingsArgs, n: usize) -> Result<SpinMethod> {
    Ok(match args.method.as_str() {
        "auto" => SpinMethod::auto(n),
        "enumeration" => SpinMethod::Enumeration,
        "convolution" => SpinMethod::Convolution {
            max_support: args.max_support,
        },
        "gaussian" => SpinMethod::Gaussian { tol: args.tol },
        "hybrid" => SpinMethod::Hybrid {
            max_support: args.max_support,
            tol: args.tol,
        },
        other => {
            return Err(Error::param(
                "method",
                format!(
                    "expected auto, enumeration, convolution, gaussian or hybrid, got `{other}`"
                ),
            ))
        }
    })
}

fn distance_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("couplings");
    let ext = out.extension().and_then(|s| s.to_str()).unwrap_or("png");
    out.with_file_name(format!("{stem}-distance.{ext}"))
}

/// Runs `couplings`.
pub fn run(args: &CouplingsArgs) -> Result<()> {
    let rbm = persist::load_rbm(&args.model)?;
    let ham = if args.hidden {
        EffectiveHamiltonian::hidden(&rbm)
    } else {
        EffectiveHamiltonian::new(&rbm)
    };
    if let Some(out) = &args.out {
        OutputPlan::new()
            .input(&args.model)
            .file(out)
            .file(distance_path(out))
            .check()?;
    }
    let basis: Basis = args.basis.parse()?;
    let method = parse_method(args, ham.n_units())?;
    let listing = match (args.all, args.top) {
        (true, _) => Listing::All,
        (false, k) => Listing::Largest(k.unwrap_or(20)),
    };
    let report = CouplingReport::compute(&ham, args.hidden, args.order, listing, basis, &method)?;
    if let Some(out) = &args.out {
        write_plots(args, &ham, basis, &method, out)?;
    }
    if args.json {
        let json = JsonReport {
            model: args.model.display().to_string(),
            report: &report,
        };
        let text = serde_json::to_string(&json).map_err(|e| Error::Json {
            path: PathBuf::from("<stdout>"),
            source: e,
        })?;
        println!("{text}");
    } else {
        print!("{}: {report}", args.model.display());
    }
    Ok(())
}

/// The pair heat map at `out` and, on a lattice, the pairs against distance.
fn write_plots(
    args: &CouplingsArgs,
    ham: &EffectiveHamiltonian,
    basis: Basis,
    method: &SpinMethod,
    out: &Path,
) -> Result<()> {
    let n = ham.n_units();
    let m = ham.pair_matrix_in(basis, method)?;
    let sym = if basis == Basis::Spin { "J" } else { "K" };
    pair_heatmap(
        out,
        m.as_ref(),
        &format!("pair couplings {sym}_ij ({basis} basis)"),
    )?;
    let shape = match &args.shape {
        Some(s) => Some(LatticeShape {
            periodic: args.periodic,
            ..s.parse::<LatticeShape>()?
        }),
        None => LatticeShape::square(n, args.periodic),
    };
    let Some(shape) = shape else {
        if !args.json {
            println!("wrote {}", out.display());
        }
        return Ok(());
    };
    let pts = shape.pairs_by_distance(m.as_ref()).map_err(|_| {
        Error::param(
            "shape",
            format!("{}x{} does not have {n} units", shape.rows, shape.cols),
        )
    })?;
    let dp = distance_path(out);
    couplings_vs_distance(
        &dp,
        &pts,
        &format!("{sym}_ij against lattice distance ({basis} basis)"),
        &format!("{sym}_ij"),
    )?;
    if !args.json {
        println!("wrote {} and {}", out.display(), dp.display());
    }
    Ok(())
}
