//! `emf-rbm couplings MODEL`: the many-body couplings of a model's effective Hamiltonian.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use emf_rbm::hamiltonian::{
    lattice_distance, Basis, Coupling, EffectiveHamiltonian, SpinMethod, MAX_LISTED_SUBSETS,
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

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    side: &'a str,
    n_units: usize,
    n_integrated: usize,
    basis: Basis,
    order: usize,
    method: Option<String>,
    exact: bool,
    constant: f64,
    fields: Vec<f64>,
    couplings: Vec<Coupling>,
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

fn parse_shape(s: &str) -> Option<(usize, usize)> {
    let (r, c) = s.split_once('x')?;
    Some((r.trim().parse().ok()?, c.trim().parse().ok()?))
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
    let n = ham.n_units();
    if let Some(out) = &args.out {
        OutputPlan::new()
            .input(&args.model)
            .file(out)
            .file(distance_path(out))
            .check()?;
    }
    let basis: Basis = args.basis.parse()?;
    let method = parse_method(args, n)?;
    if args.order > n {
        return Err(Error::param(
            "order",
            format!(
                "must be at most the number of units ({n}), got {}",
                args.order
            ),
        ));
    }
    let couplings = if args.all {
        ham.all_couplings(args.order, basis, &method, MAX_LISTED_SUBSETS)?
    } else {
        ham.top_couplings(args.order, args.top.unwrap_or(20), basis, &method)?
    };
    let constant = match basis {
        Basis::LatticeGas => ham.constant(),
        Basis::Spin => ham.constant_spin(&method)?,
    };
    let fields = ham.fields_in(basis, &method)?;
    let method_text = (basis == Basis::Spin).then(|| method.to_string());
    let exact = basis == Basis::LatticeGas || method.is_exact();

    if let Some(out) = &args.out {
        let m = ham.pair_matrix_in(basis, &method)?;
        let sym = if basis == Basis::Spin { "J" } else { "K" };
        pair_heatmap(
            out,
            m.as_ref(),
            &format!("pair couplings {sym}_ij ({basis} basis)"),
        )?;
        let shape =
            match &args.shape {
                Some(s) => Some(parse_shape(s).ok_or_else(|| {
                    Error::param("shape", format!("expected ROWSxCOLS, got `{s}`"))
                })?),
                None => {
                    let r = (n as f64).sqrt().round() as usize;
                    (r * r == n && r > 1).then_some((r, r))
                }
            };
        if let Some((rows, cols)) = shape {
            if rows * cols != n {
                return Err(Error::param(
                    "shape",
                    format!("{rows}x{cols} does not have {n} units"),
                ));
            }
            let mut pts = Vec::with_capacity(n * (n - 1) / 2);
            for i in 0..n {
                for k in i + 1..n {
                    let d = lattice_distance(
                        (i / cols, i % cols),
                        (k / cols, k % cols),
                        rows,
                        cols,
                        args.periodic,
                    );
                    pts.push((d, m[(i, k)]));
                }
            }
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
        } else if !args.json {
            println!("wrote {}", out.display());
        }
    }

    if args.json {
        let report = Report {
            model: args.model.display().to_string(),
            side: if args.hidden { "hidden" } else { "visible" },
            n_units: n,
            n_integrated: ham.n_integrated(),
            basis,
            order: args.order,
            method: method_text,
            exact,
            constant,
            fields,
            couplings,
        };
        let text = serde_json::to_string(&report).map_err(|e| Error::Json {
            path: PathBuf::from("<stdout>"),
            source: e,
        })?;
        println!("{text}");
        return Ok(());
    }

    let side = if args.hidden { "hidden" } else { "visible" };
    println!(
        "{}: effective Hamiltonian of the {n} {side} units ({} integrated out), {basis} basis{}",
        args.model.display(),
        ham.n_integrated(),
        match &method_text {
            Some(m) => format!(", {m}"),
            None => " (exact closed forms)".to_string(),
        }
    );
    println!("constant {constant:.6}");
    let mut by_size: Vec<(usize, f64)> = fields.iter().copied().enumerate().collect();
    by_size.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    let shown = by_size.len().min(10);
    let list: Vec<String> = by_size[..shown]
        .iter()
        .map(|(i, v)| format!("{i}: {v:+.5}"))
        .collect();
    println!(
        "fields (largest {shown} of {}): {}",
        fields.len(),
        list.join(", ")
    );
    let what = if args.all { "all" } else { "largest" };
    println!(
        "\n{what} couplings of order {} ({} listed)",
        args.order,
        couplings.len()
    );
    println!("{:>6}  {:<28} {:>14}", "rank", "units", "value");
    for (r, c) in couplings.iter().enumerate() {
        let units: Vec<String> = c.units.iter().map(|u| u.to_string()).collect();
        println!("{:>6}  {:<28} {:>+14.6e}", r + 1, units.join(" "), c.value);
    }
    Ok(())
}
