//! The on-call JSON API (bearer tokens, see `web::api`): `GET /api/v1/oncall`
//! (who is on call now and next, per schedule) and `GET /api/v1/pages` (the
//! newest pages). Acknowledging with a link's token is `ack::acknowledge_api`.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use chrono::{Duration, Utc};

use crate::db::{pages, schedules, users};
use crate::web::AppState;
use crate::web::api::auth::ApiActor;
use crate::web::api::error::ApiError;
use crate::web::api::resource;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(resource("/api/v1/oncall", "GET").route(web::get().to(oncall_now)))
        .service(resource("/api/v1/pages", "GET").route(web::get().to(list_pages)));
}

fn unexpected(e: impl Into<anyhow::Error>) -> ApiError {
    ApiError::Unexpected(e.into())
}

pub async fn oncall_now(state: web::Data<AppState>, _caller: ApiActor) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await.map_err(unexpected)?;
    let now = Utc::now();
    let rotations = schedules::rotations(&mut conn, None, now).await.map_err(unexpected)?;
    let names = users::display_names(&mut conn).await.map_err(unexpected)?;
    drop(conn);
    let person = |u: &crate::db::UserId| serde_json::json!({ "id": u, "name": names.get(u) });
    let out: Vec<_> = rotations
        .into_iter()
        .map(|(s, r)| {
            let (current, next) = r.now_and_next(now, Duration::days(14));
            serde_json::json!({
                "schedule": { "id": s.id, "name": s.name, "time_zone": s.time_zone },
                "on_call": current.as_ref().map(|c| serde_json::json!({ "user": person(&c.user), "until": c.end })),
                "next": next.as_ref().map(|n| serde_json::json!({ "user": person(&n.user), "from": n.start, "until": n.end })),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "schedules": out })))
}

pub async fn list_pages(
    state: web::Data<AppState>,
    _caller: ApiActor,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // Read by hand: a malformed query gets a JSON 400, like the rest of the API.
    let values: Vec<String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k == "active")
        .map(|(_, v)| v.into_owned())
        .collect();
    let only_active = match values.as_slice() {
        [] => false,
        [v] if v == "false" => false,
        [v] if v == "true" => true,
        _ => return Err(ApiError::BadRequest("`active` is true or false, once.".to_owned())),
    };
    let mut conn = state.pool.get().await.map_err(unexpected)?;
    let rows = pages::recent(&mut conn, only_active, 100).await.map_err(unexpected)?;
    let out: Vec<_> = rows
        .into_iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id, "incident_id": p.incident_id, "policy_id": p.policy_id, "status": p.status,
                "step": p.step + 1, "repeat": p.repeat, "next_step_at": p.next_step_at,
                "acknowledged_by": p.acknowledged_by, "acknowledged_at": p.acknowledged_at,
                "created_at": p.created_at,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "pages": out })))
}
