//! Live rooms: every app instance LISTENs on one PostgreSQL channel and fans
//! notifications out to the browsers watching that incident over server-sent
//! events. The browser then reloads the parts of the room that changed.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::db::{IncidentId, incidents};
use crate::services::incidents::{NOTIFY_CHANNEL, can_view};
use crate::startup::AppState;
use crate::web::{AppError, CurrentUser};

/// How often an idle event stream sends a comment, so proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Listens for incident changes for as long as the app runs, reconnecting
/// after the database goes away.
pub async fn listen(database_url: String, events: broadcast::Sender<IncidentId>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match listen_once(&database_url, &events).await {
            Ok(()) => backoff = Duration::from_millis(250),
            Err(e) => {
                tracing::warn!(error = %e, "incident change listener lost its connection; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn listen_once(database_url: &str, events: &broadcast::Sender<IncidentId>) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query(format!("LISTEN {NOTIFY_CHANNEL}")).execute(&mut conn).await?;
    let mut stream = std::pin::pin!(conn.notifications_stream());
    while let Some(n) = stream.next().await {
        let n = n?;
        if let Ok(id) = n.payload.parse::<IncidentId>() {
            // No receivers is fine: nobody is watching.
            let _ = events.send(id);
        }
    }
    anyhow::bail!("the notification stream ended")
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
    let rx = state.events.subscribe();
    let first = futures_util::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"retry: 2000\n\n")) });
    let changes = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
                Err(_) => return Some((Ok(Bytes::from_static(b": keepalive\n\n")), rx)),
                Ok(Ok(changed)) if changed == id => {
                    return Some((Ok(Bytes::from_static(b"event: change\ndata: {}\n\n")), rx));
                }
                Ok(Ok(_)) => continue,
                // Missed some: tell the page to refresh anyway.
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    return Some((Ok(Bytes::from_static(b"event: change\ndata: {}\n\n")), rx));
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(first.chain(changes)))
}

/// `GET /incidents/events`: a `change` event whenever any incident changes,
/// for the home page's list of active incidents. It names no incident, so a
/// restricted one reveals nothing; the page re-reads what its viewer may see.
pub async fn any_events(state: web::Data<AppState>, _user: CurrentUser) -> Result<HttpResponse, AppError> {
    let rx = state.events.subscribe();
    let first = futures_util::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"retry: 2000\n\n")) });
    let changes = futures_util::stream::unfold(rx, move |mut rx| async move {
        match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
            Err(_) => Some((Ok(Bytes::from_static(b": keepalive\n\n")), rx)),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                Some((Ok(Bytes::from_static(b"event: change\ndata: {}\n\n")), rx))
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => None,
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(first.chain(changes)))
}
