//! `plant-bench`: the ceilings and the report for `bench/run.sh`.

use std::process::ExitCode;

fn main() -> ExitCode {
    plant_bench::cli::main_from_env()
}
