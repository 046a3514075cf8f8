use reqwest::StatusCode;

use crate::helpers::{drop_database, spawn_app};

#[tokio::test]
async fn health_answers_while_the_process_runs() {
    let app = spawn_app().await;
    let response = app.browser().get("/health").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn ready_answers_only_while_the_database_does() {
    let app = spawn_app().await;
    let browser = app.browser();
    assert_eq!(browser.get("/ready").await.status(), StatusCode::OK);

    drop_database(&app.db_name);

    let response = browser.get("/ready").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(browser.get("/health").await.status(), StatusCode::OK, "liveness does not depend on the database");
}
