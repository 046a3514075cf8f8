//! Calendar feeds of shifts: `/oncall/feeds/{token}.ics`, readable without a
//! session through a secret link (one per person, one per schedule) that its
//! owner can reset. The feed holds names and times only.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use chrono::{Duration, Utc};

use crate::db::schedules::{self, FeedOwner};
use crate::db::{ScheduleId, users};
use crate::domain::Role;
use crate::domain::alerts::token_hash;
use crate::domain::calendar::uid;
use crate::domain::oncall::{FeedShift, shifts_ics};
use crate::services::oncall as svc;
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, see_other};

/// How far back and ahead a feed reaches.
const PAST_DAYS: i64 = 7;
const AHEAD_DAYS: i64 = 60;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/oncall/feeds/{token}", web::get().to(feed))
        .route("/oncall/feed/reset", web::post().to(reset_mine))
        .route("/oncall/schedules/{id}/feed/reset", web::post().to(reset_schedule));
}

pub async fn feed(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let token = token.strip_suffix(".ics").unwrap_or(&token);
    if token.len() != 43 {
        return Err(AppError::NotFound);
    }
    let mut conn = state.pool.get().await?;
    let owner = schedules::feed_owner(&mut conn, &token_hash(token)).await?.ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let from = now - Duration::days(PAST_DAYS);
    let ids: Option<Vec<ScheduleId>> = match owner {
        FeedOwner::Schedule(s) => Some(vec![s]),
        FeedOwner::User(_) => None,
    };
    let rotations = schedules::rotations(&mut conn, ids.as_deref(), from).await?;
    let names = users::display_names(&mut conn).await?;
    drop(conn);
    let host = state.settings.base_url.host_str().unwrap_or("firebreak.invalid").to_owned();
    let mut shifts = Vec::new();
    let mut title = "On call".to_owned();
    for (schedule, rotation) in rotations {
        if let FeedOwner::Schedule(_) = owner {
            title = format!("On call: {}", schedule.name);
        }
        for s in rotation.shifts(from, now + Duration::days(AHEAD_DAYS)) {
            if let FeedOwner::User(u) = owner
                && s.user != u
            {
                continue;
            }
            let who = names.get(&s.user).cloned().unwrap_or_default();
            shifts.push(FeedShift {
                uid: uid(&format!("shift-{}-{}-{}", schedule.id, s.user, s.start.timestamp()), &host),
                summary: format!("On call: {} ({who})", schedule.name),
                start: s.start,
                end: s.end,
            });
        }
    }
    if let FeedOwner::User(u) = owner {
        title = format!("On call: {}", names.get(&u).cloned().unwrap_or_default());
    }
    shifts.sort_by_key(|s| s.start);
    Ok(HttpResponse::Ok().content_type("text/calendar; charset=utf-8").body(shifts_ics(&title, &shifts, now)))
}

fn feed_url(state: &AppState, token: &str) -> String {
    crate::email::compose::link(&state.settings, &format!("/oncall/feeds/{token}.ics"))
}

pub async fn reset_mine(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let token = svc::reset_feed(&state.pool, &user.actor(), FeedOwner::User(user.id)).await?;
    session::flash(
        &session,
        FlashKind::Success,
        format!("Your calendar link (shown once; the old one no longer works): {}", feed_url(&state, &token)),
    );
    Ok(see_other("/oncall/me"))
}

pub async fn reset_schedule(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<ScheduleId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = path.into_inner();
    let token = svc::reset_feed(&state.pool, &user.actor(), FeedOwner::Schedule(id)).await?;
    session::flash(
        &session,
        FlashKind::Success,
        format!("The schedule's calendar link (shown once; the old one no longer works): {}", feed_url(&state, &token)),
    );
    Ok(see_other(&format!("/oncall/schedules/{id}")))
}
