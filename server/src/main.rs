//! The `strata` binary: parses the command line and hands over to `server::run`.

use std::process::ExitCode;

use clap::Parser;

// jemalloc keeps many small, short-lived allocations from many threads (parsing, Arrow builders)
// cheap and avoids glibc malloc's fragmentation under a long-running write load.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    if let Err(e) = server::apply_config_file(&args) {
        eprintln!("strata: {e}");
        return ExitCode::FAILURE;
    }
    match server::run(server::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata: {e}");
            ExitCode::FAILURE
        }
    }
}
