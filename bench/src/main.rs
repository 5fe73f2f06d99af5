//! `nemo-bench`: see `nemo-bench --help` and the crate documentation.

use std::process::ExitCode;

use clap::Parser;
use nemo_bench::cli::{Cli, Completion, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(Completion::Ok) => ExitCode::SUCCESS,
        Ok(Completion::SomeFailed) => {
            eprintln!("nemo-bench: some measurements failed (see the table)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
