//! `infoplane`: train networks and measure their information plane.

use clap::Parser;
use infoplane_cli::args::{Cli, Command};
use infoplane_cli::cmd;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = infoplane_cli::choose_simd(cli.simd.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let result = match &cli.command {
        Command::Run(a) => cmd::run::run(a),
        Command::Estimate(a) => cmd::estimate::estimate(a, &mut std::io::stdout().lock()),
        Command::Mi(a) => cmd::mi::mi(a, &mut std::io::stdout().lock()),
        Command::Dataset(a) => cmd::dataset::dataset(a),
        Command::Summarize(a) => cmd::summarize::summarize(a),
        Command::Plot(a) => cmd::summarize::plot(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("hint: {h}");
            }
            if let Some(n) = e.note() {
                eprintln!("note: {n}");
            }
            ExitCode::from(2)
        }
    }
}
