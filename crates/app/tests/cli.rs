//! The `tariff` binary run as a user would (CONTRACT.md "Command line" and
//! "Configuration"): what each command prints on stdout, its exit code and one-line
//! error on bad input, `serve` as the default, and the configuration layers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

fn tariff(db_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tariff"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .env_remove("TARIFF_SERVER__BIND")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn one_line_error(output: &Output) -> String {
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "nothing on stdout on failure");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    errors[0].to_owned()
}

#[test]
fn users_and_tokens_create_print_only_the_id_and_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());

    let created = tariff(
        &url,
        &[
            "users",
            "create",
            "--email",
            "Admin@Example.com",
            "--name",
            "Admin",
            "--password",
            "a-long-password",
            "--admin",
        ],
    );
    assert!(created.status.success(), "{created:?}");
    assert_eq!(stdout(&created), "1\n");
    let second = tariff(
        &url,
        &["users", "create", "--email", "b@example.com", "--name", "B"],
    );
    assert_eq!(stdout(&second), "2\n");

    let token = tariff(
        &url,
        &[
            "tokens",
            "create",
            "--email",
            "ADMIN@example.com",
            "--name",
            "ci",
        ],
    );
    assert!(token.status.success(), "{token:?}");
    let token = stdout(&token);
    assert!(
        token.starts_with("tff_") && token.ends_with('\n'),
        "{token}"
    );
    assert_eq!(token.trim().lines().count(), 1);

    let duplicate = tariff(
        &url,
        &[
            "users",
            "create",
            "--email",
            "admin@EXAMPLE.com",
            "--name",
            "Again",
        ],
    );
    assert_eq!(
        one_line_error(&duplicate),
        "error: a user with that email already exists"
    );
    let bad_email = tariff(&url, &["users", "create", "--email", "nope", "--name", "X"]);
    assert!(one_line_error(&bad_email).contains("email"));
    let short = tariff(
        &url,
        &[
            "users",
            "create",
            "--email",
            "c@example.com",
            "--name",
            "C",
            "--password",
            "short",
        ],
    );
    assert!(one_line_error(&short).contains("password"));
    let unknown = tariff(&url, &["tokens", "create", "--email", "ghost@example.com"]);
    assert!(one_line_error(&unknown).contains("ghost@example.com"));
    // Usage mistakes are one line too, with clap's exit code 2.
    for args in [
        &["users", "create", "--email", "d@example.com"][..],
        &[
            "users",
            "create",
            "--email",
            "d@example.com",
            "--name",
            "D",
            "--bogus",
        ],
        &["users"],
        &["bogus"],
        &["invoice", "abc", "--out", "x.pdf"],
        &["invoice", "1"],
        &["plans", "import"],
    ] {
        let output = tariff(&url, args);
        let line = one_line_error(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {line}");
    }
    let help = tariff(&url, &["--help"]);
    assert!(help.status.success());
    assert!(stdout(&help).contains("Usage: tariff"));
}

/// Runs `tariff` in `dir` with exactly this environment (no inherited `TARIFF_*`). A
/// run that has not ended after 30 s (say, a bad value that was accepted and a server
/// that started) is killed and fails the test instead of hanging it.
fn tariff_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tariff"))
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tariff {args:?} with {env:?} did not end within 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// A `tariff` server process, killed when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    /// Starts `tariff ARGS` in `dir` and waits for its "listening" line; `Err` with the
    /// exit status when it stops before that.
    fn start(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tariff"))
            .current_dir(dir)
            .env_clear()
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        match line.trim().strip_prefix("tariff listening on http://") {
            Some(address) => Ok(Server {
                child,
                address: address.to_owned(),
            }),
            None => Err(format!("{:?}: {line}", child.wait().unwrap())),
        }
    }

    /// One HTTP/1.1 request; the status and the body.
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.address
        );
        if let Some(token) = token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(head.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a PDF through `pdftotext`, or `None` (with a loud line) without it.
fn pdf_text(path: &Path) -> Option<String> {
    match Command::new("pdftotext").arg(path).arg("-").output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        _ => {
            eprintln!("SKIPPED: pdftotext is not installed; the PDF text is not checked");
            None
        }
    }
}

fn plan_rows(output: &Output) -> Vec<Vec<String>> {
    assert!(output.status.success(), "{output:?}");
    stdout(output)
        .lines()
        .skip(1)
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn migrate_import_list_serve_and_invoice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let db = ["--database-url", url.as_str()];
    let run = |args: &[&str]| tariff_in(dir.path(), &[], &[&db[..], args].concat());

    let migrated = run(&["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(run(&["migrate"]).status.success(), "migrate twice is fine");

    // Import TOML, then JSON: upsert by name.
    std::fs::write(
        dir.path().join("plans.toml"),
        "[[plans]]\nname = \"Basic\"\nprice = 4.99\nserverLimit = 1\n\n[[plans]]\nname = \"Pro\"\nprice = 9.99\nserverLimit = 5\n",
    )
    .unwrap();
    let imported = run(&["plans", "import", "plans.toml"]);
    assert_eq!(
        stdout(&imported),
        "imported 2 plan(s): 2 created, 0 updated\n",
        "{imported:?}"
    );
    std::fs::write(
        dir.path().join("plans.json"),
        r#"[{"name": "pro", "price": 12.5}, {"name": "Team", "price": "29.00", "type": "enterprise"}]"#,
    )
    .unwrap();
    let imported = run(&["plans", "import", "plans.json"]);
    assert_eq!(
        stdout(&imported),
        "imported 2 plan(s): 1 created, 1 updated\n",
        "{imported:?}"
    );
    // "pro" matched "Pro" ignoring case, and took the file's spelling.
    let rows = plan_rows(&run(&["plans", "list"]));
    let summary: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[1].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("Free", "0.00 USD"),
            ("Basic", "4.99 USD"),
            ("pro", "12.50 USD"),
            ("Team", "29.00 USD")
        ]
    );
    // The file is the plan's whole definition: what it leaves out takes the default.
    assert_eq!(rows[2][4], "∞", "serverLimit back to unlimited");

    // A bad file changes nothing and says what is wrong in one line.
    for (name, text, wanted) in [
        (
            "dear.toml",
            "[[plans]]\nname = \"Dear\"\nprice = 9.999\n",
            "plan #1 (Dear): price",
        ),
        (
            "dear.json",
            r#"[{"name": "Ok"}, {"name": "Dear", "priceYearly": "1.001"}]"#,
            "plan #2 (Dear): priceYearly",
        ),
        ("gold.json", r#"[{"name": "Gold", "type": "gold"}]"#, "type"),
        ("typo.json", r#"[{"name": "Typo", "prise": 1}]"#, "prise"),
        ("list.json", r#"[["Pro", 1]]"#, "plan #1"),
        ("broken.toml", "[[plans]\n", "not valid TOML"),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
        let line = one_line_error(&run(&["plans", "import", name]));
        assert!(line.contains(wanted), "{name}: {line}");
        // Said once: no part of the message repeated through the error chain.
        let parts: Vec<&str> = line.split(": ").collect();
        for (i, part) in parts.iter().enumerate() {
            assert!(
                !parts[i + 1..].contains(part),
                "{name}: repeats itself: {line}"
            );
        }
    }
    let line = one_line_error(&run(&["plans", "import", "missing.toml"]));
    assert!(line.contains("missing.toml"), "{line}");
    assert_eq!(
        plan_rows(&run(&["plans", "list"])).len(),
        4,
        "nothing changed"
    );

    // `tariff` with no command serves (after migrating).
    let created = run(&[
        "users",
        "create",
        "--email",
        "buyer@example.com",
        "--name",
        "Buyer",
    ]);
    assert_eq!(stdout(&created), "1\n");
    let token = stdout(&run(&["tokens", "create", "--email", "buyer@example.com"]));
    let token = token.trim();
    let server = Server::start(dir.path(), &[("TARIFF_SERVER__BIND", "127.0.0.1:0")], &db).unwrap();
    assert_eq!(server.call("GET", "/healthz", None, None).0, 200);
    let (status, plans) = server.call("GET", "/api/plans", None, None);
    assert_eq!(status, 200);
    let plans: serde_json::Value = serde_json::from_str(&plans).unwrap();
    let pro = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pro")
        .unwrap()["id"]
        .clone();
    let (status, order) = server.call(
        "POST",
        "/api/orders",
        Some(token),
        Some(&format!(r#"{{"planId": {pro}}}"#)),
    );
    assert_eq!(status, 201, "{order}");
    let order: serde_json::Value = serde_json::from_str(&order).unwrap();
    let id = order["id"].to_string();
    drop(server);

    // `tariff invoice ORDER_ID --out FILE.pdf`, with the seller from the environment.
    let out = dir.path().join("invoice.pdf");
    let written = tariff_in(
        dir.path(),
        &[
            ("COMPANY_NAME", "Acme Hosting GmbH"),
            ("INVOICE_ISSUED_FROM_NAME", "Acme Billing Dept"),
            (
                "INVOICE_ISSUED_FROM_ADDRESS",
                "Hauptstrasse 1, 10115 Berlin",
            ),
            ("INVOICE_LOGO_PATH", "/nonexistent/logo.png"),
        ],
        &[&db[..], &["invoice", &id, "--out", out.to_str().unwrap()]].concat(),
    );
    assert!(written.status.success(), "{written:?}");
    let pdf = std::fs::read(&out).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&out) {
        for wanted in [
            "Acme Hosting GmbH",
            "Acme Billing Dept",
            "Hauptstrasse 1",
            "PROFORMA",
            "pro (monthly)",
            "12.50",
        ] {
            assert!(text.contains(wanted), "{wanted}: {text}");
        }
    }
    let line = one_line_error(&run(&["invoice", "999", "--out", "x.pdf"]));
    assert!(line.contains("999"), "{line}");
    assert!(!dir.path().join("x.pdf").exists());
}

#[test]
fn configuration_layers_and_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let url = |name: &str| format!("sqlite://{}", path(name).display());
    // Which database a run used: the file `migrate` made.
    let used = |env: &[(&str, &str)], args: &[&str]| {
        for name in [
            "file.db",
            "other.db",
            "env.db",
            "plain.db",
            "flag.db",
            "tariff.db",
        ] {
            let _ = std::fs::remove_file(path(name));
        }
        let output = tariff_in(dir.path(), env, &[args, &["migrate"]].concat());
        assert!(output.status.success(), "{env:?} {args:?}: {output:?}");
        [
            "file.db",
            "other.db",
            "env.db",
            "plain.db",
            "flag.db",
            "tariff.db",
        ]
        .into_iter()
        .filter(|name| path(name).exists())
        .collect::<Vec<_>>()
    };

    // Defaults: ./tariff.db.
    assert_eq!(used(&[], &[]), ["tariff.db"]);
    // Then ./tariff.toml, then TARIFF_<SECTION>__<KEY>, then DATABASE_URL, then --database-url.
    std::fs::write(
        path("tariff.toml"),
        format!("[database]\nurl = \"{}\"\n", url("file.db")),
    )
    .unwrap();
    std::fs::write(
        path("other.toml"),
        format!("[database]\nurl = \"{}\"\n", url("other.db")),
    )
    .unwrap();
    assert_eq!(used(&[], &[]), ["file.db"]);
    assert_eq!(used(&[], &["--config", "other.toml"]), ["other.db"]);
    let env_url = url("env.db");
    let plain_url = url("plain.db");
    let flag_url = url("flag.db");
    let tariff_env = ("TARIFF_DATABASE__URL", env_url.as_str());
    assert_eq!(used(&[tariff_env], &[]), ["env.db"]);
    assert_eq!(used(&[tariff_env], &["--config", "other.toml"]), ["env.db"]);
    assert_eq!(
        used(&[tariff_env, ("DATABASE_URL", &plain_url)], &[]),
        ["plain.db"]
    );
    assert_eq!(
        used(
            &[("DATABASE_URL", &plain_url)],
            &["--database-url", &flag_url]
        ),
        ["flag.db"]
    );

    // The bind address: a bad one in the file is overridden by the environment...
    std::fs::write(
        path("tariff.toml"),
        format!(
            "[server]\nbind = \"not an address\"\n[database]\nurl = \"{}\"\n",
            url("file.db")
        ),
    )
    .unwrap();
    let server = Server::start(
        dir.path(),
        &[("TARIFF_SERVER__BIND", "127.0.0.1:0")],
        &["serve"],
    )
    .unwrap();
    assert!(
        server.address.starts_with("127.0.0.1:"),
        "{}",
        server.address
    );
    assert_eq!(server.call("GET", "/readyz", None, None).0, 200);
    drop(server);
    // ...and stops start-up with one line naming the key when nothing overrides it.
    let stopped = tariff_in(dir.path(), &[], &["serve"]);
    assert!(one_line_error(&stopped).contains("server.bind"));
    std::fs::remove_file(path("tariff.toml")).unwrap();

    // Every bad value stops start-up with one line naming its key, serving nothing.
    std::fs::write(path("bad-tax.toml"), "[tax]\nDE = \"nineteen\"\n").unwrap();
    std::fs::write(path("bad-key.toml"), "[server]\nwrokers = 3\n").unwrap();
    for (env, args, key) in [
        (
            &[("TARIFF_SERVER__BIND", "nope")][..],
            &[][..],
            "server.bind",
        ),
        (&[("TARIFF_SERVER__WORKERS", "many")], &[], "server.workers"),
        (&[("TARIFF_SERVER__WORKERS", "0")], &[], "server.workers"),
        (&[("TARIFF_LOG__FORMAT", "xml")], &[], "log.format"),
        (
            &[("TARIFF_AUTH__COOKIE_SECURE", "maybe")],
            &[],
            "auth.cookie_secure",
        ),
        (
            &[("DATABASE_URL", "mysql://db/tariff")],
            &[],
            "database.url",
        ),
        (&[], &["--database-url", "redis://cache/0"], "database.url"),
        (
            &[("TARIFF_INVOICE__NUMBER_FORMAT", "INV-{seq}")],
            &[],
            "invoice.number_format",
        ),
        (&[], &["--config", "bad-tax.toml"], "tax.DE"),
        (&[], &["--config", "bad-key.toml"], "wrokers"),
        (&[], &["--config", "missing.toml"], "missing.toml"),
    ] {
        for command in ["serve", "migrate"] {
            let output = tariff_in(dir.path(), env, &[args, &[command]].concat());
            let line = one_line_error(&output);
            assert!(line.contains(key), "{env:?} {args:?} {command}: {line}");
        }
    }
}

#[test]
fn the_profile_and_panel_sign_in_are_read_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let with = |env: &[(&str, &str)]| {
        let mut all = vec![("DATABASE_URL", db.as_str())];
        all.extend_from_slice(env);
        tariff_in(dir.path(), &all, &["migrate"])
    };
    let good = with(&[
        ("TARIFF_API__PROFILE", "eclipanel"),
        (
            "TARIFF_AUTH__PANEL__SESSION_URL",
            "https://panel.example/api/auth/session",
        ),
        ("TARIFF_AUTH__PANEL__ADMIN_ROLES", "staff,owner"),
    ]);
    assert!(good.status.success(), "{good:?}");
    for (key, value, named) in [
        ("TARIFF_API__PROFILE", "whmcs", "profile"),
        (
            "TARIFF_AUTH__PANEL__SESSION_URL",
            "panel.example/api/auth/session",
            "auth.panel.session_url",
        ),
        ("TARIFF_AUTH__PANEL__CACHE_MS", "soon", "cache_ms"),
    ] {
        let output = with(&[(key, value)]);
        assert_eq!(output.status.code(), Some(2), "{key}={value}: {output:?}");
        let line = one_line_error(&output);
        assert!(line.contains(named), "{key}: {line}");
    }
}
