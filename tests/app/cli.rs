use std::process::Command;

use crate::helpers::{create_database, drop_database, server_url, spawn_app};

fn firebreak() -> Command {
    Command::new(env!("CARGO_BIN_EXE_firebreak"))
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let out = firebreak().env("BIND", "not-an-address").output().expect("run firebreak");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("BIND (--bind)"), "{stderr}");

    let out = firebreak().env("SESSION_KEY", "too short").arg("migrate").output().expect("run firebreak");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SESSION_KEY"));
}

#[test]
fn migrate_creates_the_database_when_it_is_missing() {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let out = firebreak()
        .arg("migrate")
        .env("DATABASE_URL", format!("{}/{name}", server_url()))
        .output()
        .expect("run firebreak");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    drop_database(&name);
}

#[tokio::test]
async fn user_add_creates_a_user_who_can_sign_in() {
    let app = spawn_app().await;
    let out = firebreak()
        .args(["user", "add", "--email", "Cli@Example.test", "--name", "Cli Admin", "--role", "admin"])
        .env("DATABASE_URL", &app.db_url)
        .env("FIREBREAK_PASSWORD", "from the command line")
        .output()
        .expect("run firebreak");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let browser = app.browser();
    browser.sign_in("cli@example.test", "from the command line").await;
    browser.page("/admin/users").await;

    let out = firebreak()
        .args(["user", "add", "--email", "bad", "--name", "X", "--role", "boss"])
        .env("DATABASE_URL", &app.db_url)
        .env("FIREBREAK_PASSWORD", "from the command line")
        .output()
        .expect("run firebreak");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("email:") && stderr.contains("role:"), "{stderr}");
}

#[test]
fn user_add_without_a_password_source_says_how_to_give_one() {
    let (name, url) = create_database(true);
    let out = firebreak()
        .args(["user", "add", "--email", "a@example.test", "--name", "A"])
        .env("DATABASE_URL", &url)
        .env_remove("FIREBREAK_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run firebreak");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FIREBREAK_PASSWORD"));
    drop_database(&name);
}
