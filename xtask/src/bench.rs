//! `cargo xtask bench`: the load benchmark, in the default release profile
//! and in the bench profile (fat LTO), and optionally the micro-benchmarks.
//!
//! The load benchmark starts the emulator (a child process), measures
//! `get_token` through `acs-identity` and through bare reqwest at
//! concurrency 1, 8 and 64, and prints the markdown table; see
//! `crates/acs-identity/benches/load.rs`. `--token-service` runs the token
//! service's load table instead (`crates/acs-identity-token-service/benches/load.rs`):
//! our service with the cache on and off and the quickstart-shaped Node peer
//! (`benches/peer`, whose dependencies the bench installs with `npm ci` when
//! missing; a `--quick` run leaves them to a full one), at concurrency 8 and
//! 64, with the service's CPU per request and its split.

use std::process::Command;

use anyhow::{Context, Result};

/// What to run.
pub struct Options {
    /// Also run the criterion micro-benchmarks, with short measurements.
    pub micro: bool,
    /// Instead of the load table: issue 1,000,000 tokens and report memory.
    pub memory: bool,
    /// A tenth of the requests (a smoke run; the figures are noisier).
    pub quick: bool,
    /// Instead: the token service's load table beside the Node peer
    /// (release profile).
    pub token_service: bool,
}

pub fn run(options: &Options) -> Result<bool> {
    let root = crate::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if options.token_service {
        let mut load = Command::new(&cargo);
        load.current_dir(&root).args([
            "bench",
            "--profile",
            "release",
            "-p",
            "acs-identity-token-service",
            "--bench",
            "load",
            "--",
        ]);
        if options.quick {
            load.arg("--quick");
        }
        let status = load
            .status()
            .context("running the token service's load bench")?;
        return Ok(status.success());
    }
    // The default release profile first: what a user's `cargo build
    // --release` gives. Then the bench profile (fat LTO), for comparison.
    // A quick run is a smoke test that the bench works, not a measurement:
    // it builds in the dev profile, on top of the test build, instead of
    // the minutes of an optimised build. The memory run measures, so it
    // builds the release profile.
    let profiles: &[&str] = if options.quick && !options.memory {
        &["dev"]
    } else if options.memory {
        &["release"]
    } else {
        &["release", "bench"]
    };
    for profile in profiles {
        let mut load = Command::new(&cargo);
        load.current_dir(&root).args([
            "bench",
            "--profile",
            profile,
            "-p",
            "acs-identity",
            "--bench",
            "load",
            "--",
            "--profile-label",
            profile,
        ]);
        if options.quick {
            load.arg("--quick");
        }
        if options.memory {
            load.arg("--memory");
        }
        let status = load
            .status()
            .with_context(|| format!("running the load bench in the {profile} profile"))?;
        if !status.success() {
            return Ok(false);
        }
    }
    if options.micro {
        let status = Command::new(&cargo)
            .current_dir(&root)
            .args([
                "bench",
                "-p",
                "acs-identity",
                "--bench",
                "micro",
                "--",
                "--warm-up-time",
                "0.5",
                "--measurement-time",
                "1",
            ])
            .status()
            .context("running `cargo bench -p acs-identity --bench micro`")?;
        return Ok(status.success());
    }
    Ok(true)
}
