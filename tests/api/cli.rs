//! The binary itself: flags, exit codes, migrations, graceful shutdown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use crate::helpers::{aswan_command, ServerProcess};
use std::time::Duration;

fn aswan(dir: &std::path::Path) -> Command {
    aswan_command(dir)
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = aswan(dir.path()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("aswan "));
    for sub in [&["--help"][..], &["serve", "--help"], &["migrate", "--help"]] {
        let out = aswan(dir.path()).args(sub).output().unwrap();
        assert!(out.status.success(), "{sub:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("DATABASE_URL"), "{sub:?}");
    }
}

#[test]
fn invalid_settings_are_one_line_naming_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 3] = [
        ("BIND", "not-an-address", "BIND"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "soon", "ACCESS_TOKEN_EXPIRE_MINUTES"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
    ];
    for (key, value, named) in cases {
        let out = aswan(dir.path()).env(key, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(named), "{err}");
    }
    // Settings that parse but cannot be used: the same, and no database is
    // left behind.
    let unusable: [(&str, &str, &str); 4] = [
        ("EMBEDDING_PROVIDER", "openai", "EMBEDDING_PROVIDER"),
        ("EMBEDDING_PROVIDER", "bogus", "EMBEDDING_PROVIDER"),
        ("EMBEDDING_MODEL_DIR", "/nonexistent/model", "EMBEDDING_MODEL_DIR"),
        ("SIMILARITY_MAX_DISTANCE", "3", "SIMILARITY_MAX_DISTANCE"),
    ];
    for (key, value, named) in unusable {
        let out = aswan(dir.path()).env(key, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(named), "{err}");
        assert!(
            !dir.path().join("data/aswan.db").exists(),
            "{key}={value} left a database"
        );
    }
    // A bad database URL fails at start with a clear message (not a panic).
    let out = aswan(dir.path())
        .env("DATABASE_URL", "mysql://x")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

/// A database SQLite can only read is refused at start, naming the file,
/// rather than failing every write later. (Before: the server started and
/// answered 500 to every write.)
#[test]
fn a_read_only_database_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = aswan(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = dir.path().join("data/aswan.db");
    let read_only = format!("sqlite://{}?mode=ro", file.display());
    let out = aswan(dir.path())
        .env("DATABASE_URL", &read_only)
        .env("BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("can only be read") && err.contains("aswan.db"), "{err}");
}

#[test]
fn migrate_is_idempotent_and_creates_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = aswan(dir.path()).arg("migrate").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        dir.path().join("data/aswan.db").exists(),
        "default SQLite file under ./data"
    );
}

#[test]
fn serves_with_no_configuration_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &[]);
    let addr = server.addr.clone();
    assert!(
        dir.path().join("data/jwt_secret").exists(),
        "a JWT secret was generated"
    );

    // A request in flight: headers sent, body not yet.
    let body = br#"{"email":"late@example.com","password":"correct horse"}"#;
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        conn,
        "POST /api/sign-up HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.write_all(&body[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    // New connections are refused while the old request may still finish.
    assert!(TcpStream::connect(&addr).is_err(), "stopped accepting");
    conn.write_all(&body[10..]).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the in-flight request finished: {answer}"
    );

    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "clean exit on SIGTERM");
    let mut rest = String::new();
    server.stderr.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}

/// Each command's `--help` lists only the settings that command reads (all
/// settings are still accepted everywhere, so one `.env` serves every command).
#[test]
fn each_command_lists_only_the_settings_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let out = aswan(dir.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let eval = help(&["eval", "--help"]);
    assert!(
        eval.contains("--embedding-model-dir") && eval.contains("--json"),
        "{eval}"
    );
    for unrelated in [
        "--bind",
        "--jwt-secret",
        "--cookie-secure",
        "--database-url",
        "--trusted-proxies",
    ] {
        assert!(!eval.contains(unrelated), "eval --help offers {unrelated}:\n{eval}");
    }
    let migrate = help(&["migrate", "--help"]);
    assert!(
        migrate.contains("--database-url") && migrate.contains("--data-dir"),
        "{migrate}"
    );
    assert!(
        !migrate.contains("--bind") && !migrate.contains("--ai-model"),
        "{migrate}"
    );
    let reindex = help(&["reindex", "--help"]);
    assert!(
        reindex.contains("--batch") && reindex.contains("--embedding-provider"),
        "{reindex}"
    );
    assert!(!reindex.contains("--cookie-secure"), "{reindex}");
    let serve = help(&["serve", "--help"]);
    for setting in [
        "--bind",
        "--cookie-secure",
        "--database-url",
        "--trusted-proxies",
        "--metrics-bind",
    ] {
        assert!(serve.contains(setting), "serve --help lacks {setting}");
    }
    // Hidden from a command's help, still accepted by it.
    let out = aswan(dir.path())
        .args(["eval", "--json", "--bind", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// An operator's first hour: each stumble is one clear line and exit 2.
/// (Before: `aswan user --help` hid `reset-password` and a bare `aswan user`
/// exited 0; a backup into a missing folder said "unable to open database";
/// exporting an unknown tenant said "not found"; `mysql://` exited 1; with
/// BIND=0.0.0.0 a reset link pointed at http://0.0.0.0:8080.)
#[test]
fn an_operators_first_hour_without_a_stumble() {
    let dir = tempfile::tempdir().unwrap();
    let out = aswan(dir.path()).args(["user", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("reset-password"));
    let out = aswan(dir.path()).arg("user").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a bare `aswan user`");
    assert!(String::from_utf8_lossy(&out.stderr).contains("subcommand"));

    let out = aswan(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let one_line = |out: &std::process::Output, code: i32, says: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(err.contains(says), "{err}");
    };
    let missing = dir.path().join("no-such-folder/x.db");
    let out = aswan(dir.path()).arg("backup").arg(&missing).output().unwrap();
    one_line(&out, 2, "no-such-folder does not exist");
    let id = "0190c1e5-0000-7000-8000-00000000abcd";
    let out = aswan(dir.path()).args(["export", "--tenant", id]).output().unwrap();
    one_line(&out, 2, &format!("no tenant has the id {id}"));
    let out = aswan(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root:Sup3rS3cret@db/aswan")
        .output()
        .unwrap();
    one_line(&out, 2, "\"mysql\" is not supported");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Sup3rS3cret"));

    // An account to reset, made the usual way.
    let server = ServerProcess::start(dir.path(), &[]);
    let res = ureq_post(
        &server.url("/api/sign-up"),
        r#"{"email":"ada@example.com","password":"correct horse"}"#,
    );
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    drop(server);
    let out = aswan(dir.path())
        .args(["user", "reset-password", "ada@example.com"])
        .env("BIND", "0.0.0.0:8080")
        .output()
        .unwrap();
    one_line(&out, 2, "set PUBLIC_URL");
    let out = aswan(dir.path())
        .args(["user", "reset-password", "ada@example.com"])
        .env("BIND", "0.0.0.0:8080")
        .env("PUBLIC_URL", "https://tasks.example.com")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("https://tasks.example.com/reset-password/"));
}

/// A minimal HTTP POST over a plain socket: the response's text.
fn ureq_post(url: &str, body: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /{path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

/// `.env.example` names every setting, and each value it gives is the
/// default the binary uses (so uncommenting a line changes nothing but
/// what the operator edits). (Before: HNSW_EF_SEARCH was missing and
/// SIMILARITY_MAX_DISTANCE's comment gave an old default.)
#[test]
fn the_env_example_names_every_setting_with_its_default() {
    let example = include_str!("../../.env.example");
    let command = aswan::config::Cli::full_command();
    for arg in command.get_arguments() {
        let Some(key) = arg.get_env().map(|k| k.to_string_lossy().into_owned()) else {
            continue;
        };
        let line = example
            .lines()
            .map(|l| l.trim_start_matches("# "))
            .find(|l| l.starts_with(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} is not in .env.example"));
        let given = line[key.len() + 1..].split("  ").next().unwrap_or_default().trim();
        let uncommented = example.lines().any(|l| l.starts_with(&format!("{key}=")));
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if uncommented {
            assert_eq!(default, [given.to_owned()], "{key}: .env.example gives {given:?}");
        }
    }
    // The one default that depends on the model, said in the comment.
    assert!(example.contains(&format!(
        "default: {:.2} with a local model",
        aswan::ai::LOCAL_MAX_DISTANCE
    )));
}
