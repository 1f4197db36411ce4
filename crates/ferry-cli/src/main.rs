//! `ferry`: an HTTP client for the terminal that explains proxies.
//!
//! `ferry [OPTIONS] [METHOD] URL [ITEMS...]` sends a request (curl's flags,
//! HTTPie's items); `ferry route URL` prints the route a URL would take;
//! `ferry demo` runs a loopback lab and shows what ferry does. The exit
//! statuses are in [`exit`] and in `ferry --help`.

mod cli;
mod cookies;
mod demo;
mod exit;
mod items;
mod lab_server;
mod request;
mod route_cmd;
mod settings;
mod show;
mod writeout;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferry: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let code = match &cli.command {
        Some(Command::Route(args)) => match route_cmd::run(args) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("ferry: {e}");
                e.code()
            }
        },
        Some(Command::Demo) => runtime.block_on(demo::run()),
        Some(Command::Lab(args)) => match runtime.block_on(lab_server::run(args.until_signal)) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("ferry lab: {e}");
                exit::FAILURE
            }
        },
        None => runtime.block_on(request::run(&cli.request)),
    };
    // Connections still open in the pool need no goodbye.
    runtime.shutdown_background();
    ExitCode::from(code)
}
