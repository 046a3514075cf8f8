//! Live rooms: the instance's database listener (`db::listener`) hears every
//! incident change and this fans it out to the browsers watching that incident
//! over server-sent events. The browser then reloads the parts of the room that
//! changed. After the listener reconnects (changes may have been missed while
//! it was away) every open room gets a `change`, so every page catches up.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::db::listener::DbEvent;
use crate::db::{IncidentId, SessionId, UserId, incidents};
use crate::services::incidents::can_view;
use crate::services::sessions;
use crate::web::AppState;
use crate::web::{AppError, CurrentUser};

/// How often an idle event stream sends a comment, so proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Who an open stream belongs to: when some of that person's sessions end,
/// the stream checks that its own is still live and ends with it.
#[derive(Clone)]
struct Watcher {
    state: web::Data<AppState>,
    user: UserId,
    session: SessionId,
}

impl Watcher {
    async fn still_signed_in(&self, whose: UserId) -> bool {
        // A database error keeps the stream: the next request checks the session anyway.
        whose != self.user || sessions::is_live(&self.state.pool, self.session).await.unwrap_or(true)
    }
}

/// `GET /incidents/{id}/events`: a `text/event-stream` sending `change` whenever
/// the incident changes.
pub async fn events(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<IncidentId>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    {
        let mut conn = state.pool.get().await?;
        let incident = incidents::find(&mut conn, id).await?.ok_or(AppError::NotFound)?;
        if !can_view(&mut conn, &incident, &user.actor()).await? {
            return Err(AppError::NotFound);
        }
    }
    Ok(change_stream(&state, &user, move |event| matches!(event, DbEvent::Incident(changed) if *changed == id)))
}

/// `GET /incidents/events`: a `change` event whenever any incident changes,
/// for the home page's list of active incidents. It names no incident, so a
/// restricted one reveals nothing; the page re-reads what its viewer may see.
pub async fn any_events(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    Ok(change_stream(&state, &user, |event| matches!(event, DbEvent::Incident(_))))
}

/// A `text/event-stream` that sends `change` for each event `wanted` picks,
/// and after the listener reconnected or this stream fell behind (changes
/// may have been missed: the page catches up anyway). It ends when the
/// viewer's session does.
fn change_stream(
    state: &web::Data<AppState>,
    user: &CurrentUser,
    wanted: impl Fn(&DbEvent) -> bool + Clone + 'static,
) -> HttpResponse {
    let rx = state.events.subscribe();
    let first = futures_util::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"retry: 2000\n\n")) });
    let watcher = Watcher { state: state.clone(), user: user.id, session: user.session_id };
    let changes = futures_util::stream::unfold(rx, move |mut rx| {
        let watcher = watcher.clone();
        let wanted = wanted.clone();
        async move {
            loop {
                match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
                    Err(_) => return Some((Ok(Bytes::from_static(b": keepalive\n\n")), rx)),
                    Ok(Ok(DbEvent::SessionsEnded(whose))) => {
                        if !watcher.still_signed_in(whose).await {
                            return None;
                        }
                    }
                    Ok(Ok(DbEvent::Resync)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                        return Some((Ok(Bytes::from_static(b"event: change\ndata: {}\n\n")), rx));
                    }
                    Ok(Ok(event)) if wanted(&event) => {
                        return Some((Ok(Bytes::from_static(b"event: change\ndata: {}\n\n")), rx));
                    }
                    Ok(Ok(_)) => continue,
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                }
            }
        }
    });
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(first.chain(changes))
}
