//! The `acs-identity` command.

#![forbid(unsafe_code)]
#![deny(clippy::print_stdout)]

mod cli;
mod cmd;
mod failure;
mod json;
mod log;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // `acs-identity emulator` logs each request unless told --quiet.
    let request_log = matches!(&cli.command, cli::Command::Emulator(args) if !args.quiet);
    let _log = log::init(cli.verbose, request_log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let failure = failure::Failure::call(format!("could not start the async runtime: {e}"));
            output::error(&failure);
            return ExitCode::from(failure.exit_code());
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output::error(&failure);
            ExitCode::from(failure.exit_code())
        }
    }
}
