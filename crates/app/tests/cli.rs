//! The `tariff` binary's account commands, run as a user would: what they print on
//! stdout, and their exit code and one-line error on bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::process::{Command, Output};

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
    let missing = tariff(&url, &["users", "create", "--email", "d@example.com"]);
    assert!(!missing.status.success());
}
