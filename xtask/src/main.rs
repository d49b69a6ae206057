//! Project tasks: `cargo xtask regen [--check]`, `cargo xtask upstream-check`,
//! `cargo xtask bench` and `cargo xtask image`.

mod bench;
mod check;
mod generate;
mod image;
mod naming;
mod swagger2;
mod upstream;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Project tasks for acs-identity")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert each swagger under the spec folder to OpenAPI 3.0 and
    /// regenerate the raw client (one module per api-version).
    Regen {
        /// Regenerate in memory and fail, with a diff, if anything checked in is stale.
        #[arg(long)]
        check: bool,
        /// The spec folder, laid out like Microsoft's
        /// `specification/communication/data-plane` (default: `spec`).
        #[arg(long, value_name = "DIR")]
        spec_dir: Option<PathBuf>,
        /// The raw crate to write into: `openapi/` and `src/generated/` below it
        /// (default: `crates/acs-identity-raw`).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Regenerate a copy of the raw crate from Microsoft's published files,
    /// check that it compiles, and compare it with ours apart from prose.
    UpstreamCheck {
        /// Microsoft's `specification/communication/data-plane` folder
        /// (default: `../shared/reference/azure-rest-api-specs/specification/communication/data-plane`).
        #[arg(long, value_name = "DIR")]
        reference: Option<PathBuf>,
    },
    /// Run the load benchmark against the emulator (release build) and print
    /// its table: get_token through acs-identity and through bare reqwest at
    /// concurrency 1, 8 and 64, and the emulator's capacity.
    Bench {
        /// Also run the criterion micro-benchmarks (short measurements).
        #[arg(long)]
        micro: bool,
        /// Instead: issue 1,000,000 tokens and report the emulator's memory.
        #[arg(long)]
        memory: bool,
        /// A tenth of the requests, built in the dev profile: a smoke run
        /// that the bench works (its figures are not a measurement).
        #[arg(long)]
        quick: bool,
        /// Instead: tokens per second through the token service at
        /// concurrency 8 and 64, cached and uncached, beside the
        /// quickstart-shaped Node peer, with CPU per request and its split
        /// (release profile).
        #[arg(long, conflicts_with_all = ["micro", "memory"])]
        token_service: bool,
    },
    /// Build the container images of the emulator and the token service
    /// with buildah (`FROM scratch`, static release binaries) and print
    /// their sizes.
    Image {
        /// buildah's image storage (`--root`); default: buildah's own.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// buildah's run-time state (`--runroot`); default: buildah's own.
        #[arg(long, value_name = "DIR")]
        runroot: Option<PathBuf>,
        /// buildah's storage driver (vfs needs no kernel support; podman's
        /// default is overlay).
        #[arg(long, value_name = "DRIVER", default_value = "vfs")]
        storage_driver: String,
        /// The CA roots to put in the images.
        #[arg(
            long,
            value_name = "FILE",
            default_value = "/etc/ssl/certs/ca-certificates.crt"
        )]
        ca_bundle: PathBuf,
        /// Use the static binaries already in the target folder.
        #[arg(long)]
        no_build: bool,
        /// Also write each image to DIR/NAME.tar, for `docker load -i`.
        #[arg(long, value_name = "DIR")]
        archive: Option<PathBuf>,
    },
}

/// The workspace root (the xtask crate's parent folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Regen {
            check,
            spec_dir,
            out_dir,
        } => regen(check, spec_dir, out_dir),
        Command::UpstreamCheck { reference } => upstream::run(reference),
        Command::Bench {
            micro,
            memory,
            quick,
            token_service,
        } => bench::run(&bench::Options {
            micro,
            memory,
            quick,
            token_service,
        }),
        Command::Image {
            root,
            runroot,
            storage_driver,
            ca_bundle,
            no_build,
            archive,
        } => image::run(&image::Options {
            root,
            runroot,
            storage_driver,
            ca_bundle,
            no_build,
            archive,
        }),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn regen(check: bool, spec_dir: Option<PathBuf>, out_dir: Option<PathBuf>) -> Result<bool> {
    let root = workspace_root();
    let (spec_dir, shown) = match spec_dir {
        Some(dir) => {
            let shown = dir.to_string_lossy().replace('\\', "/");
            (dir, shown)
        }
        None => (root.join("spec"), "spec".to_string()),
    };
    let out_dir = out_dir.unwrap_or_else(|| root.join("crates/acs-identity-raw"));
    let files = generate::generate_all(&spec_dir, &shown)?;
    if check {
        let stale = check::stale_files(&out_dir, &files)?;
        if stale.is_empty() {
            println!("regen --check: {} generated files are current", files.len());
            return Ok(true);
        }
        for entry in &stale {
            println!("{entry}");
        }
        println!(
            "regen --check: {} of the checked-in generated files are stale; run `cargo xtask regen`",
            stale.len()
        );
        Ok(false)
    } else {
        let changed = check::write_files(&out_dir, &files)?;
        println!("regen: {} files, {} changed", files.len(), changed);
        Ok(true)
    }
}
