//! `firebreak demo` fills a new database through the same use cases people use.

use std::process::Command;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_demo_fills_a_new_database_that_a_newcomer_can_sign_in_to_and_look_around() {
    let app = spawn_app().await;
    let out = Command::new(env!("CARGO_BIN_EXE_firebreak"))
        .arg("demo")
        .env("DATABASE_URL", &app.db_url)
        .env("MAIL_DIR", std::env::temp_dir().join("firebreak-test-mail").join(uuid::Uuid::new_v4().to_string()))
        .output()
        .expect("run firebreak demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find_map(|l| l.strip_prefix("Sign in as ")).expect("the demo says how to sign in");
    let (email, password) = line.split_once(" with the password ").expect("email and password");

    let browser = app.browser();
    browser.sign_in(email, password).await;
    let incidents = browser.page("/incidents").await;
    assert!(incidents.contains("Search results are slow"), "the active incident is listed");
    assert!(incidents.contains("Checkout fails with 502"), "the resolved incident is listed");
    let library = browser.page("/postmortems").await;
    assert!(library.contains("Checkout fails with 502"), "its post-mortem is published");
    let oncall = browser.page("/oncall").await;
    assert!(oncall.contains("Platform primary"), "the on-call schedule is listed");
    assert!(
        ["Lena Fischer", "Sam Patel", "Jo Martin"].iter().any(|name| oncall.contains(name)),
        "someone is on call now"
    );
    let status = app.browser().page("/status").await;
    assert!(status.contains("Search") && status.contains("Checkout"), "the status page shows the components");

    let again = Command::new(env!("CARGO_BIN_EXE_firebreak"))
        .arg("demo")
        .env("DATABASE_URL", &app.db_url)
        .output()
        .expect("run firebreak demo");
    assert!(!again.status.success(), "a second demo is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has users"));
}
