//! `emf-rbm`: the command-line tool, a thin layer over the `emf_rbm` library.

mod cli;

use clap::Parser;
use emf_rbm::error::escape_control;

fn main() {
    let args = parse_args();
    // Interrupted writes leave no temporary file behind.
    if let Err(e) = emf_rbm::output::remove_temp_files_on_signals() {
        eprintln!("warning: {e}");
    }
    if let Err(e) = cli::run(args) {
        eprintln!("error: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            eprintln!("  caused by: {}", escape_control(&s.to_string()));
            src = s.source();
        }
        std::process::exit(1);
    }
}

/// The parsed command line; a usage error that echoes an argument with control characters is
/// printed with them escaped (and without colours), any other as clap prints it.
fn parse_args() -> cli::Cli {
    match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let plain = e.render().to_string();
            if e.use_stderr()
                && plain.trim_end_matches('\n').contains(|c: char| {
                    c != '\n' && escape_control(&c.to_string()) != c.to_string()
                })
            {
                let escaped: Vec<String> = plain
                    .lines()
                    .map(|l| escape_control(l).into_owned())
                    .collect();
                eprintln!("{}", escaped.join("\n"));
                std::process::exit(e.exit_code());
            }
            e.exit()
        }
    }
}
