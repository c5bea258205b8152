//! The `strata` binary: parses the command line and hands over to `server::run`.

use std::process::ExitCode;

use clap::Parser;

// jemalloc keeps many small, short-lived allocations from many threads (parsing, Arrow builders)
// cheap and avoids glibc malloc's fragmentation under a long-running write load.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main`. Freed pages are kept for reuse, not handed back to
/// the kernel a little at a time (the default, a 10 s decay): under a steady write load every
/// flush frees its buffers and the next ones are allocated at once, and with the decay those
/// came back as fresh pages: twice the page faults and 5-20 % more server CPU at a fixed load
/// (benches/RESULTS.md). The server hands them back itself once writes and flushes stop
/// (`server::allocator`). `_RJEM_MALLOC_CONF` still overrides this.
#[export_name = "_rjem_malloc_conf"]
#[allow(non_upper_case_globals)]
pub static malloc_conf: &[u8; 36] = b"dirty_decay_ms:-1,muzzy_decay_ms:-1\0";

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
