//! The real `tariff` binary as a child process: start it on a database, read the bound
//! address from its stdout, stop it with SIGTERM or SIGKILL, start it again on the same
//! database. For crash, shutdown and outage tests that an in-process server cannot do.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a start may take (migrations on a busy machine included).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `tariff` binary of this workspace, built once per test process. `cargo build` is
/// run every time (a no-op when fresh) so a test never exercises a stale binary.
pub fn tariff_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
        // target/debug/deps/<test> → target/debug/tariff
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test executable path {}", exe.display()));
        let binary = profile_dir.join(format!("tariff{}", std::env::consts::EXE_SUFFIX));
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or_else(|| panic!("tests crate has no parent directory"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = std::process::Command::new(&cargo);
        build
            .args(["build", "--quiet", "-p", "tariff-app", "--bin", "tariff"])
            .current_dir(workspace);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        match build.status() {
            Ok(status) if status.success() => {}
            Ok(status) if binary.exists() => {
                eprintln!("WARNING: `cargo build -p tariff-app --bin tariff` failed ({status}); using the existing {}", binary.display());
            }
            Ok(status) => panic!(
                "the tariff binary is missing at {} and `cargo build -p tariff-app --bin tariff` failed ({status})",
                binary.display()
            ),
            Err(e) if binary.exists() => {
                eprintln!("WARNING: cannot run {cargo} ({e}); using the existing {}", binary.display());
            }
            Err(e) => panic!(
                "the tariff binary is missing at {} and cargo cannot be run ({e}): build it with `cargo build -p tariff-app --bin tariff`",
                binary.display()
            ),
        }
        binary
    })
}

/// A `tariff serve` child process.
pub struct ServiceProcess {
    child: Child,
    pub address: SocketAddr,
    pub base_url: String,
    pub database_url: String,
    log_path: PathBuf,
    _log_dir: std::sync::Arc<tempfile::TempDir>,
    env: Vec<(String, String)>,
}

impl ServiceProcess {
    /// Starts `tariff serve` on `database_url`, on 127.0.0.1 port 0, with extra environment.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> ServiceProcess {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        Self::spawn(database_url, env, std::sync::Arc::new(dir)).await
    }

    async fn spawn(
        database_url: &str,
        env: Vec<(String, String)>,
        log_dir: std::sync::Arc<tempfile::TempDir>,
    ) -> ServiceProcess {
        let binary = tariff_binary();
        let runs = std::fs::read_dir(log_dir.path()).map_or(0, Iterator::count);
        let log_path = log_dir.path().join(format!("tariff-{runs}.log"));
        let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("log file: {e}"));
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("TARIFF_SERVER__BIND", "127.0.0.1:0")
            .env("TARIFF_SERVER__WORKERS", "2")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("child has no stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let read_address = async {
            while let Some(line) = lines.next_line().await.ok().flatten() {
                if let Some(addr) = line.trim().strip_prefix("tariff listening on http://") {
                    return addr.parse::<SocketAddr>().ok();
                }
            }
            None
        };
        let address = match tokio::time::timeout(START_TIMEOUT, read_address).await {
            Ok(Some(address)) => address,
            outcome => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                panic!(
                    "tariff did not report its address ({}); its log:\n{}",
                    if outcome.is_err() {
                        "timed out"
                    } else {
                        "exited"
                    },
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServiceProcess {
            child,
            address,
            base_url: format!("http://{address}"),
            database_url: database_url.to_owned(),
            log_path,
            _log_dir: log_dir,
            env,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn pid(&self) -> u32 {
        self.child
            .id()
            .unwrap_or_else(|| panic!("the tariff process has already been reaped"))
    }

    /// Sends SIGTERM (graceful shutdown) without waiting.
    pub fn terminate(&self) {
        send_signal(self.pid(), "TERM");
    }

    /// SIGKILL: the process dies at once, mid-request, with no chance to clean up.
    pub async fn kill(&mut self) -> ExitStatus {
        send_signal(self.pid(), "KILL");
        self.wait(Duration::from_secs(10)).await
    }

    /// Waits for the process to exit, panicking after `limit`.
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => panic!("waiting for tariff: {e}"),
            Err(_) => {
                let _ = self.child.start_kill();
                panic!("tariff did not exit within {limit:?}; log:\n{}", self.log());
            }
        }
    }

    /// Starts the binary again on the same database (and environment): after [`kill`]
    /// or a clean exit. It may come up on another port.
    pub async fn restart(self) -> ServiceProcess {
        let ServiceProcess {
            mut child,
            database_url,
            env,
            _log_dir,
            ..
        } = self;
        if child.id().is_some() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        Self::spawn(&database_url, env, _log_dir).await
    }

    /// What the process has written to stderr so far (its log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
    assert!(status.success(), "kill -s {signal} {pid} failed");
}

/// Runs a `tariff` subcommand against `database_url` and returns its output; panics
/// (with stderr) when it exits non-zero.
pub async fn run_cli(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(tariff_binary())
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run tariff {args:?}: {e}"));
    assert!(
        output.status.success(),
        "tariff {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Creates an administrator `ops@example.com` with the binary's own CLI and returns
/// an API token for it.
pub async fn cli_admin_token(database_url: &str) -> String {
    run_cli(
        database_url,
        &[
            "users",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--admin",
        ],
    )
    .await;
    run_cli(
        database_url,
        &["tokens", "create", "--email", "ops@example.com"],
    )
    .await
    .trim()
    .to_owned()
}

/// Polls `url` until it answers with `status`, or `limit` passes; returns the time taken.
pub async fn wait_for_status(
    client: &reqwest::Client,
    url: &str,
    status: u16,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let answer = client.get(url).timeout(Duration::from_secs(5)).send().await;
        if answer.is_ok_and(|r| r.status().as_u16() == status) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
