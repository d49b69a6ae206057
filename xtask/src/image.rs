//! `cargo xtask image`: the container images of the emulator and the token
//! service, built with buildah from `deploy/containers/*.Containerfile`
//! (both `FROM scratch`), with no daemon and no base image.
//!
//! 1. Builds `acs-identity` and `acs-identity-token-service` in release,
//!    statically linked (`-C target-feature=+crt-static` on
//!    `x86_64-unknown-linux-gnu`; `--target` keeps build scripts and
//!    proc-macros dynamic), and checks that neither asks for a loader.
//! 2. Stages the build context under `target/image/context`: the two
//!    binaries, `/etc/passwd`, `/etc/group` and `/etc/nsswitch.conf` for the
//!    non-root user (65532) and name resolution, the machine's CA bundle,
//!    `/tmp`, the licence, and an empty `/data`.
//! 3. `buildah build` of each Containerfile, tagged `VERSION` and `latest`,
//!    then prints each image's size.
//!
//! glibc 2.34 and later carry the `files` and `dns` name services inside
//! libc itself, so a static binary resolves names (ACS, the OIDC issuer,
//! PostgreSQL hosts) from `/etc/hosts` and `/etc/resolv.conf` with no
//! `libnss_*.so` in the image.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The target the static binaries are built for.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The user the images run as (the "nonroot" id of distroless images).
const USER_ID: u32 = 65532;

/// One image: its name, its Containerfile and the binary it holds.
struct Image {
    name: &'static str,
    containerfile: &'static str,
    package: &'static str,
    binary: &'static str,
}

const IMAGES: [Image; 2] = [
    Image {
        name: "acs-identity-emulator",
        containerfile: "deploy/containers/emulator.Containerfile",
        package: "acs-identity-cli",
        binary: "acs-identity",
    },
    Image {
        name: "acs-identity-token-service",
        containerfile: "deploy/containers/token-service.Containerfile",
        package: "acs-identity-token-service",
        binary: "acs-identity-token-service",
    },
];

/// What `cargo xtask image` was asked for.
pub struct Options {
    /// buildah's `--root` (image storage), if not its default.
    pub root: Option<PathBuf>,
    /// buildah's `--runroot`, if not its default.
    pub runroot: Option<PathBuf>,
    /// buildah's `--storage-driver`.
    pub storage_driver: String,
    /// The CA bundle to put in the images.
    pub ca_bundle: PathBuf,
    /// Use the binaries already built instead of running cargo.
    pub no_build: bool,
    /// Also write each image as a `docker load`-able archive here.
    pub archive: Option<PathBuf>,
}

pub fn run(options: &Options) -> Result<bool> {
    let root = crate::workspace_root();
    let started = Instant::now();
    let buildah = Buildah::new(options);
    buildah.check()?;

    let release = target_dir(&root).join(TARGET).join("release");
    if !options.no_build {
        build_binaries(&root)?;
    }
    for image in &IMAGES {
        let binary = release.join(image.binary);
        check_static(&binary)?;
    }
    let built = started.elapsed();

    let context = target_dir(&root).join("image/context");
    stage_context(&root, &context, &release, &options.ca_bundle)?;

    let manifest = workspace_package(&root)?;
    let revision = git_revision(&root).unwrap_or_else(|| "unknown".into());
    let timestamp = git_timestamp(&root);
    for image in &IMAGES {
        let mut args = vec![
            "build".to_string(),
            "--pull=never".into(),
            "--format".into(),
            "oci".into(),
            "--isolation".into(),
            "chroot".into(),
            "--file".into(),
            root.join(image.containerfile).display().to_string(),
            "--build-arg".into(),
            format!("VERSION={}", manifest.version),
            "--build-arg".into(),
            format!("REVISION={revision}"),
            "--build-arg".into(),
            format!("SOURCE={}", manifest.repository),
            "--tag".into(),
            format!("localhost/{}:{}", image.name, manifest.version),
            "--tag".into(),
            format!("localhost/{}:latest", image.name),
        ];
        // The commit's time for every file and the image's creation: the
        // same commit gives the same image.
        if let Some(timestamp) = &timestamp {
            args.extend(["--timestamp".into(), timestamp.clone()]);
        }
        args.push(context.display().to_string());
        println!("image: building {}", image.name);
        buildah.run(&args)?;
        if let Some(dir) = &options.archive {
            fs::create_dir_all(dir)?;
            let file = dir.join(format!("{}.tar", image.name));
            let _ = fs::remove_file(&file);
            buildah.run(&[
                "push".into(),
                "--quiet".into(),
                format!("localhost/{}:{}", image.name, manifest.version),
                format!(
                    "docker-archive:{}:localhost/{}:{}",
                    file.display(),
                    image.name,
                    manifest.version
                ),
            ])?;
            println!("image: wrote {}", file.display());
        }
    }

    println!();
    println!("{:<44} {:<21} binary", "image", "size (uncompressed)");
    for image in &IMAGES {
        let reference = format!("localhost/{}:{}", image.name, manifest.version);
        let size = buildah.output(&[
            "images".into(),
            "--format".into(),
            "{{.Size}}".into(),
            reference.clone(),
        ])?;
        // One line per tag of the image: the sizes are the same.
        let size = size.lines().next().unwrap_or("?").trim();
        let binary = fs::metadata(release.join(image.binary))?.len();
        println!("{reference:<44} {size:<21} {:.1} MB", binary as f64 / 1e6);
    }
    println!(
        "image: binaries in {:.0} s, images in {:.0} s",
        built.as_secs_f64(),
        (started.elapsed() - built).as_secs_f64()
    );
    Ok(true)
}

/// buildah with the storage options given.
struct Buildah {
    global: Vec<String>,
}

impl Buildah {
    fn new(options: &Options) -> Self {
        let mut global = vec![format!("--storage-driver={}", options.storage_driver)];
        if let Some(root) = &options.root {
            global.push(format!("--root={}", root.display()));
        }
        if let Some(runroot) = &options.runroot {
            global.push(format!("--runroot={}", runroot.display()));
        }
        Self { global }
    }

    fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new("buildah");
        command.args(&self.global).args(args);
        command
    }

    fn check(&self) -> Result<()> {
        match Command::new("buildah").arg("--version").output() {
            Ok(out) if out.status.success() => {
                print!("image: {}", String::from_utf8_lossy(&out.stdout));
                Ok(())
            }
            _ => bail!("buildah is needed (Debian: apt-get install buildah)"),
        }
    }

    fn run(&self, args: &[String]) -> Result<()> {
        let status = self
            .command(args)
            .status()
            .context("could not run buildah")?;
        if !status.success() {
            bail!("buildah {} failed ({status})", args[0]);
        }
        Ok(())
    }

    fn output(&self, args: &[String]) -> Result<String> {
        let out = self
            .command(args)
            .output()
            .context("could not run buildah")?;
        if !out.status.success() {
            bail!(
                "buildah {} failed: {}",
                args[0],
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"))
}

/// Both binaries in one cargo run (shared dependencies built once), static
/// and stripped.
fn build_binaries(root: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--release", "--locked", "--target", TARGET]);
    for image in &IMAGES {
        command.args(["-p", image.package, "--bin", image.binary]);
    }
    // With --target, RUSTFLAGS reach the target's crates only: build scripts
    // and proc-macros stay dynamic, as they must.
    command
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=symbols",
        )
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    println!("image: cargo build --release --target {TARGET} (static, stripped)");
    let status = command.status().context("could not run cargo")?;
    if !status.success() {
        bail!("cargo build failed ({status})");
    }
    Ok(())
}

/// Refuses a binary that names a program interpreter (`PT_INTERP`): a
/// dynamically linked one would not start in a scratch image.
fn check_static(binary: &Path) -> Result<()> {
    let bytes = fs::read(binary).with_context(|| {
        format!(
            "{} is missing (build it, or drop --no-build)",
            binary.display()
        )
    })?;
    if interpreter(&bytes)? {
        bail!(
            "{} is linked dynamically: it needs a loader a scratch image does not have",
            binary.display()
        );
    }
    Ok(())
}

/// Whether an ELF64 little-endian file has a `PT_INTERP` program header.
fn interpreter(elf: &[u8]) -> Result<bool> {
    const PT_INTERP: u32 = 3;
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 || elf[5] != 1 {
        bail!("not a 64-bit little-endian ELF file");
    }
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().expect("8 bytes"));
    let offset = usize::try_from(u64_at(32))?;
    let entry_size = usize::from(u16_at(54));
    let count = usize::from(u16_at(56));
    for n in 0..count {
        let at = offset.saturating_add(n * entry_size);
        if entry_size < 4 || at.saturating_add(entry_size) > elf.len() {
            bail!("truncated program headers");
        }
        if u32_at(at) == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes the build context: `bin/` (the binaries), `rootfs/` (copied to
/// `/`, owned by root) and `data/` (copied to `/data`, owned by the user).
fn stage_context(root: &Path, context: &Path, release: &Path, ca_bundle: &Path) -> Result<()> {
    if context.exists() {
        fs::remove_dir_all(context)?;
    }
    let rootfs = context.join("rootfs");
    for dir in ["bin", "data", "rootfs/etc/ssl/certs", "rootfs/tmp"] {
        fs::create_dir_all(context.join(dir))?;
    }
    for image in &IMAGES {
        fs::copy(
            release.join(image.binary),
            context.join("bin").join(image.binary),
        )?;
    }
    let user = USER_ID;
    fs::write(
        rootfs.join("etc/passwd"),
        format!(
            "root:x:0:0:root:/root:/sbin/nologin\nacs:x:{user}:{user}:acs-identity:/data:/sbin/nologin\n"
        ),
    )?;
    fs::write(
        rootfs.join("etc/group"),
        format!("root:x:0:\nacs:x:{user}:\n"),
    )?;
    // No module beyond those built into libc: a static binary cannot load one.
    fs::write(
        rootfs.join("etc/nsswitch.conf"),
        "passwd: files\ngroup: files\nhosts: files dns\n",
    )?;
    fs::copy(ca_bundle, rootfs.join("etc/ssl/certs/ca-certificates.crt")).with_context(|| {
        format!(
            "could not copy the CA bundle {} (Debian: apt-get install ca-certificates)",
            ca_bundle.display()
        )
    })?;
    let doc = rootfs.join("usr/share/doc/acs-identity");
    fs::create_dir_all(&doc)?;
    fs::copy(root.join("LICENSE"), doc.join("LICENSE"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))?;
        fs::set_permissions(context.join("data"), fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// The workspace's version and repository (`[workspace.package]`).
struct WorkspacePackage {
    version: String,
    repository: String,
}

fn workspace_package(root: &Path) -> Result<WorkspacePackage> {
    let text = fs::read_to_string(root.join("Cargo.toml"))?;
    let manifest: toml::Table = toml::from_str(&text)?;
    let package = manifest
        .get("workspace")
        .and_then(|w| w.get("package"))
        .context("Cargo.toml has no [workspace.package]")?;
    let field = |name: &str| {
        package
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .with_context(|| format!("[workspace.package] has no {name}"))
    };
    Ok(WorkspacePackage {
        version: field("version")?,
        repository: field("repository")?,
    })
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn git_revision(root: &Path) -> Option<String> {
    git(root, &["rev-parse", "HEAD"])
}

fn git_timestamp(root: &Path) -> Option<String> {
    git(root, &["log", "-1", "--format=%ct"])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header followed by program headers of these types.
    fn elf(types: &[u32]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2;
        bytes[5] = 1;
        bytes[32..40].copy_from_slice(&64u64.to_le_bytes());
        bytes[54..56].copy_from_slice(&56u16.to_le_bytes());
        bytes[56..58].copy_from_slice(&u16::try_from(types.len()).unwrap().to_le_bytes());
        for t in types {
            let mut header = vec![0u8; 56];
            header[..4].copy_from_slice(&t.to_le_bytes());
            bytes.extend(header);
        }
        bytes
    }

    #[test]
    fn a_program_interpreter_header_means_dynamic() {
        assert!(!interpreter(&elf(&[1, 2, 6])).unwrap());
        assert!(interpreter(&elf(&[6, 3, 1])).unwrap());
        assert!(interpreter(b"#!/bin/sh\n").is_err());
        let mut truncated = elf(&[1]);
        truncated.truncate(70);
        assert!(interpreter(&truncated).is_err());
    }
}
