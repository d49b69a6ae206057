//! `acs-identity emulator` as a process: bad fault specs, one emulator per
//! data file, corrupt data files, storage errors on stderr, and a low file
//! descriptor limit.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use acs_identity::{CommunicationIdentityClient, RetryOptions};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_acs-identity");
const KEY: &str = "ZW11bGF0b3ItcHJvY2Vzcy10ZXN0cy1rZXktMDEyMzQ1";
const LIMIT: Duration = Duration::from_secs(20);

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An emulator process; killed (SIGKILL) when dropped.
struct Running {
    child: Child,
    conn: String,
    stderr: std::process::ChildStderr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn addr(&self) -> String {
        self.conn
            .trim_start_matches("endpoint=http://")
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }

    /// SIGKILL, then everything it wrote on stderr.
    fn kill_and_read_stderr(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut text = String::new();
        let _ = self.stderr.read_to_string(&mut text);
        text
    }
}

/// Starts `sh_prefix BIN emulator ARGS` through bash (for `ulimit`) and
/// waits for the connection string.
fn start(shell_prefix: &str, args: &[&str]) -> Running {
    let mut command = format!("{shell_prefix} exec '{BIN}' emulator --port 0 --access-key {KEY}");
    for a in args {
        command.push_str(&format!(" '{a}'"));
    }
    let mut child = Command::new("bash")
        .args(["-c", &command])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("endpoint="),
        "no connection string: {line:?}"
    );
    let stderr = child.stderr.take().unwrap();
    Running {
        child,
        conn: line.trim().to_string(),
        stderr,
    }
}

/// Runs `BIN emulator --port 0 ARGS`, expecting it to exit by itself
/// within LIMIT.
fn run_to_exit(args: &[&str]) -> std::process::Output {
    let mut all = vec!["--port", "0"];
    all.extend_from_slice(args);
    run_to_exit_without_port(&all)
}

fn client(conn: &str) -> CommunicationIdentityClient {
    CommunicationIdentityClient::builder_from_connection_string(conn)
        .unwrap()
        .retry(RetryOptions::none())
        .per_try_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[test]
fn a_fault_spec_out_of_bounds_is_a_usage_error_with_exit_2() {
    for spec in ["latency=1e30s", "latency=1.8e19s;latency=1.8e19s", "200x1"] {
        let out = run_to_exit(&["--faults", spec]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{spec}: {stderr}");
        assert!(stderr.contains("--faults"), "{spec}: {stderr}");
        assert!(stderr.contains("invalid fault rule"), "{spec}: {stderr}");
        assert!(out.stdout.is_empty(), "no connection string");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_emulator_on_one_data_file_exits_with_a_message_and_kill_9_releases_it() {
    let dir = temp_dir("cli-lock");
    let data = dir.join("state.db");
    let data_arg = data.to_str().unwrap();
    let first = start("", &["--data", data_arg]);
    let out = run_to_exit(&["--access-key", KEY, "--data", data_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is in use by another emulator"), "{stderr}");
    // SIGKILL: the OS drops the lock with the process.
    drop(first);
    let again = start("", &["--data", data_arg]);
    client(&again.conn).create_user().await.unwrap();
    drop(again);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Overwrites the root page of the identities' primary-key index (table
/// scans still work; an insert does not).
fn corrupt_identity_index(path: &Path) {
    let root: i64 = rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_identities_1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let page_size: i64 = rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let start = (page_size * (root - 1)) as usize;
    bytes[start..start + page_size as usize].fill(0x5a);
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_data_file_stops_the_start_and_storage_errors_reach_stderr_without_v() {
    let dir = temp_dir("cli-corrupt");
    let data = dir.join("state.db");
    let data_arg = data.to_str().unwrap();
    // A data file with users in it, closed cleanly (checkpointed).
    let first = start("", &["--data", data_arg]);
    for _ in 0..5 {
        client(&first.conn).create_user().await.unwrap();
    }
    let mut first = first;
    let _ = Command::new("kill")
        .args(["-TERM", &first.child.id().to_string()])
        .status();
    let _ = first.child.wait();
    drop(first);

    // Damaged while an emulator runs: the write fails with 500 and the
    // error is logged on stderr (no -v).
    let running = start("", &["--data", data_arg]);
    corrupt_identity_index(&data);
    let err = client(&running.conn).create_user().await.unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    let stderr = running.kill_and_read_stderr();
    assert!(stderr.contains("storage failed"), "stderr: {stderr:?}");
    assert!(!stderr.contains(KEY), "no secret in the log");

    // Damaged at start: refused with a message, exit 1.
    let out = run_to_exit(&["--data", data_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// User plus system CPU time of a process so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // After the `)`: state is field 3, utime 14 and stime 15.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_it_does_not_spin_and_keeps_answering() {
    let running = start("ulimit -n 64;", &[]);
    let addr = running.addr();
    // Requests whose bodies never come: busy connections, so nothing can be
    // closed to make room and `accept` fails with EMFILE.
    let mut stalled = Vec::new();
    for _ in 0..90 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            format!("POST /identities?api-version=2025-06-30 HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 10\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        stalled.push(s);
    }
    let pid = running.child.id();
    let before = cpu_ticks(pid);
    let window = Instant::now();
    // A measurement window, not synchronisation.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let used = cpu_ticks(pid) - before;
    let ticks_per_window = window.elapsed().as_millis() as u64 / 10;
    assert!(
        used * 4 < ticks_per_window,
        "the emulator used {used} of {ticks_per_window} ticks while out of descriptors"
    );
    // The stalled clients give up; the emulator recovers and answers.
    drop(stalled);
    let started = Instant::now();
    tokio::time::timeout(LIMIT, client(&running.conn).create_user())
        .await
        .expect("answered in time")
        .expect("created");
    // Idle connections past the descriptor limit do not lock clients out.
    let mut idle = Vec::new();
    for _ in 0..120 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    for _ in 0..3 {
        tokio::time::timeout(LIMIT, client(&running.conn).create_user())
            .await
            .expect("answered while idle sockets exceed the descriptor limit")
            .expect("created");
    }
    assert!(started.elapsed() < LIMIT);
    drop(idle);
    let stderr = running.kill_and_read_stderr();
    assert!(
        stderr.contains("accept failed"),
        "the first failure is logged: {stderr}"
    );
}

/// A fixture of the emulator crate: a JWKS with one RSA key and a token it
/// signed (expiring in 2100).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../acs-identity-emulator/tests/fixtures")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_lets_rs256_tokens_of_that_issuer_manage_and_a_bad_file_stops_the_start() {
    let jwks = fixture("jwks.json");
    let running = start("", &["--jwks", jwks.to_str().unwrap()]);
    let token = std::fs::read_to_string(fixture("rs256-management-token.jwt")).unwrap();
    let created = reqwest::Client::new()
        .post(format!(
            "http://{}/identities?api-version=2025-06-30",
            running.addr()
        ))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    drop(running);

    let dir = temp_dir("cli-jwks");
    for (content, says) in [
        (None, "could not read the JWKS file"),
        (Some(r#"{"keys": []}"#), "invalid JWKS"),
    ] {
        let path = dir.join("jwks.json");
        let _ = std::fs::remove_file(&path);
        if let Some(c) = content {
            std::fs::write(&path, c).unwrap();
        }
        let out = run_to_exit(&["--jwks", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // A bad argument: a usage error.
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Starts `acs-identity emulator --port 0 ARGS` with stderr piped, makes an
/// unsigned and a signed request, stops it with SIGTERM and returns stderr.
fn stderr_of_two_requests(args: &[&str], rust_log: Option<&str>) -> String {
    let mut command = Command::new(BIN);
    command
        .args(["emulator", "--port", "0", "--access-key", KEY])
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let conn = line.trim().to_string();
    let endpoint = conn
        .trim_start_matches("endpoint=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let unsigned = reqwest::Client::new()
            .post(format!("{endpoint}identities?api-version=2025-06-30"))
            .timeout(LIMIT)
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status().as_u16(), 401);
        client(&conn).create_user().await.unwrap();
    });
    stop(child)
}

#[test]
fn each_request_is_one_line_on_stderr_with_the_reason_of_a_refusal() {
    let stderr = stderr_of_two_requests(&[], None);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("/identities"))
        .collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].contains("POST /identities 2025-06-30 401")
            && lines[0].contains("refused: missing header: Authorization"),
        "{stderr}"
    );
    assert!(
        lines[1].contains("POST /identities 2025-06-30 201"),
        "{stderr}"
    );
    assert!(lines[1].contains(" ms"), "{stderr}");
    // Not a terminal: no colour codes; and never the key.
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(!stderr.contains(KEY));
}

#[test]
fn quiet_or_a_filter_turns_the_request_log_off() {
    let quiet = stderr_of_two_requests(&["--quiet"], None);
    assert!(!quiet.contains("/identities"), "{quiet}");
    let filtered = stderr_of_two_requests(&[], Some("acs_identity_emulator::requests=off"));
    assert!(!filtered.contains("/identities"), "{filtered}");
}

/// Starts `acs-identity emulator ARGS` and returns it with its first stdout
/// line and, once that is out, what it printed on stderr so far is left
/// to the caller (read after SIGTERM).
fn spawn_emulator(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("emulator")
        .args(args)
        .arg("--quiet")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

/// SIGTERM, a bounded wait, then stderr.
fn stop(mut child: Child) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < LIMIT, "the emulator did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

#[test]
fn with_no_flags_it_prints_the_well_known_connection_string() {
    let port = acs_identity_emulator::WELL_KNOWN_PORT;
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        // Something else holds the port: the command must say so.
        let out = run_to_exit_without_port(&[]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--port 0"), "{stderr}");
        eprintln!("port {port} is taken here; checked the message instead");
        return;
    }
    let (child, conn) = spawn_emulator(&[]);
    assert_eq!(conn, acs_identity_emulator::WELL_KNOWN_CONNECTION_STRING);
    // A second one on the same port fails with the fix in the message.
    let out = run_to_exit_without_port(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("port 10700 is in use") && stderr.contains("--port 0"),
        "{stderr}"
    );
    stop(child);
}

/// `acs-identity emulator ARGS` with the default port, to its exit.
fn run_to_exit_without_port(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("emulator")
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("the emulator did not exit within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_random_key_is_kept_with_the_data_and_reused() {
    let dir = temp_dir("cli-random-key");
    let data = dir.join("state.db");
    let data = data.to_str().unwrap();
    let args = ["--port", "0", "--access-key", "random", "--data", data];
    let (first, conn) = spawn_emulator(&args);
    let key = conn.split("accesskey=").nth(1).unwrap().to_string();
    assert_ne!(key, acs_identity_emulator::WELL_KNOWN_ACCESS_KEY);
    stop(first);
    let (second, conn) = spawn_emulator(&args);
    assert_eq!(conn.split("accesskey=").nth(1), Some(key.as_str()));
    stop(second);
    // Without --access-key, the kept key too.
    let (third, conn) = spawn_emulator(&["--port", "0", "--data", data]);
    assert_eq!(conn.split("accesskey=").nth(1), Some(key.as_str()));
    stop(third);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tls_prints_an_https_connection_string_and_where_the_certificate_is() {
    let dir = temp_dir("cli-tls");
    let data = dir.join("state.db");
    let (child, conn) = spawn_emulator(&["--port", "0", "--tls", "--data", data.to_str().unwrap()]);
    assert!(conn.starts_with("endpoint=https://127.0.0.1:"), "{conn}");
    let stderr = stop(child);
    let cert = dir.join(acs_identity_emulator::CERTIFICATE_FILE);
    assert!(
        stderr.contains(&format!("TLS certificate: {}", cert.display())),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(&cert)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    // --tls-cert without --tls-key is a usage error.
    let out = run_to_exit(&["--tls", "--tls-cert", cert.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_host_beyond_loopback_gets_a_warning() {
    let (child, conn) = spawn_emulator(&["--port", "0", "--host", "0.0.0.0"]);
    // A wildcard address is reached through loopback.
    assert!(conn.starts_with("endpoint=http://127.0.0.1:"), "{conn}");
    let stderr = stop(child);
    assert!(stderr.contains("listens beyond this machine"), "{stderr}");
    assert!(stderr.contains("address=0.0.0.0:"), "{stderr}");
    let (child, _) = spawn_emulator(&["--port", "0", "--host", "127.0.0.1"]);
    assert!(!stop(child).contains("beyond"));
}

// Issue 20, item 7: files of the emulator command.

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Without --data, the generated key and certificate go to a new private
/// directory (made exclusively, under a random name), never to a name
/// someone else could have prepared: a symlink planted at the name the
/// certificate used to get is left alone, and so is its target.
#[cfg(unix)]
#[test]
fn tls_without_data_keeps_its_files_in_a_fresh_private_directory() {
    let tmp = temp_dir("cli-tls-tmp");
    let victim = tmp.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    // The port the emulator will get, and the name it used to write to.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let planted = tmp.join(format!("acs-identity-emulator-{port}.pem"));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let mut child = Command::new(BIN)
        .args(["emulator", "--quiet", "--tls", "--port", &port.to_string()])
        .env("TMPDIR", &tmp)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut conn = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut conn)
        .unwrap();
    assert!(conn.starts_with("endpoint=https://"), "{conn:?}");
    // The certificate line comes before the connection string.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let cert = PathBuf::from(
        line.trim()
            .strip_prefix("TLS certificate: ")
            .unwrap_or_else(|| panic!("{line:?}"))
            .split(" (trust it")
            .next()
            .unwrap(),
    );
    let private = cert.parent().unwrap().to_path_buf();
    assert!(private.starts_with(&tmp), "{}", private.display());
    assert_ne!(private, tmp, "a directory of its own");
    assert_ne!(cert, planted);
    assert!(
        !private
            .file_name()
            .unwrap()
            .to_string_lossy()
            .contains(&port.to_string()),
        "the name is not derived from the port: {}",
        private.display()
    );
    assert_eq!(mode(&private), 0o700);
    let key = private.join(acs_identity_emulator::KEY_FILE);
    assert_eq!(mode(&key), 0o600);
    assert!(
        std::fs::read_to_string(&cert)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read_link(&planted).unwrap(), victim);
    // A second one gets another directory.
    let (second, _) = spawn_emulator(&["--port", "0", "--tls"]);
    let other = stop(second);
    assert!(!other.contains(&private.display().to_string()), "{other}");
    child.stderr = Some(stderr.into_inner());
    stop(child);
    assert!(!private.exists(), "removed when the emulator stops");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// A data file others can read (it holds the access key and the signing
/// secret) is made the owner's only, with a warning.
#[cfg(unix)]
#[test]
fn a_data_file_others_can_read_is_tightened_with_a_warning() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("cli-data-mode");
    let data = dir.join("state.db");
    let data_arg = data.to_str().unwrap();
    let (first, _) = spawn_emulator(&["--port", "0", "--data", data_arg]);
    let quiet = stop(first);
    assert_eq!(mode(&data), 0o600);
    assert!(
        !quiet.contains("0600"),
        "no warning for a new file: {quiet}"
    );
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (second, _) = spawn_emulator(&["--port", "0", "--data", data_arg]);
    let warned = stop(second);
    assert_eq!(mode(&data), 0o600);
    assert!(
        warned.contains("WARN") && warned.contains("0644") && warned.contains("0600"),
        "{warned}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
