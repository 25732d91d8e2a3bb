//! `plant-cli`: parse the command line, run, exit with the documented code.

use std::process::ExitCode;

fn main() -> ExitCode {
    plant_cli::main_from_env()
}
