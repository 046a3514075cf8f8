//! `/health`: the process answers. `/ready`: the database answers too.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use diesel_async::RunQueryDsl;

use crate::web::AppState;

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok\n")
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let check = async {
        let mut conn = state.pool.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1").execute(&mut conn).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(_)) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready\n"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            HttpResponse::ServiceUnavailable().content_type("text/plain; charset=utf-8").body("database unavailable\n")
        }
        Err(_) => {
            HttpResponse::ServiceUnavailable().content_type("text/plain; charset=utf-8").body("database timed out\n")
        }
    }
}
