//! Admin: alert sources (token shown once) and the payloads they sent.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::Utc;

use crate::db::alerts::{self as db, AlertSource, Payload};
use crate::db::ids::{AlertPayloadId, AlertSourceId};
use crate::domain::Role;
use crate::domain::alerts::SourceKind;
use crate::domain::incident::Severity;
use crate::services::alerts::{self as svc, PAYLOAD_RETENTION_DAYS, SourceInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::incidents::{iso, local_time};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/admin/alert-sources", web::get().to(list))
        .route("/admin/alert-sources", web::post().to(create))
        .route("/admin/alert-sources/{id}", web::get().to(show))
        .route("/admin/alert-sources/{id}", web::post().to(update))
        .route("/admin/alert-sources/{id}/token", web::post().to(regenerate))
        .route("/admin/alert-sources/{id}/disable", web::post().to(disable))
        .route("/admin/alert-sources/{id}/enable", web::post().to(enable))
        .route("/admin/alert-sources/{id}/delete", web::get().to(confirm_delete))
        .route("/admin/alert-sources/{id}/delete", web::post().to(delete))
        .route("/admin/alert-sources/{id}/payloads", web::get().to(payloads));
}

/// Session key of a token to show once: (source id, token).
const NEW_TOKEN: &str = "alert_source_token";

/// Payloads per page.
const PAGE: i64 = 50;

/// What the source form's selects offer.
pub struct Choices {
    pub kinds: &'static [SourceKind],
    pub severities: [Severity; 4],
}

impl Choices {
    fn new() -> Self {
        Choices { kinds: SourceKind::ALL, severities: Severity::ALL }
    }
}

pub struct SourceRow {
    pub source: AlertSource,
    pub payloads: i64,
    pub last: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/alert_sources.html")]
pub struct SourcesPage {
    pub layout: Layout,
    pub rows: Vec<SourceRow>,
    pub form: SourceInput,
    pub errors: FieldErrors,
    pub choices: Choices,
    pub retention_days: i64,
}

async fn sources_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    form: SourceInput,
    errors: FieldErrors,
) -> Result<SourcesPage, AppError> {
    let mut conn = state.pool.get().await?;
    let sources = db::list_sources(&mut conn).await?;
    let stats = db::payload_stats(&mut conn).await?;
    let rows = sources
        .into_iter()
        .map(|source| {
            let (payloads, last) = stats
                .iter()
                .find(|(id, _, _)| *id == source.id)
                .map(|(_, n, last)| (*n, last.map(|t| local_time(t, user.time_zone))))
                .unwrap_or((0, None));
            SourceRow { source, payloads, last }
        })
        .collect();
    Ok(SourcesPage {
        layout: layout.at("admin"),
        rows,
        form,
        errors,
        choices: Choices::new(),
        retention_days: PAYLOAD_RETENTION_DAYS,
    })
}

fn blank_form() -> SourceInput {
    SourceInput {
        kind: SourceKind::Alertmanager.as_str().to_owned(),
        severity_label: "severity".to_owned(),
        severity_mapping: "critical = 1\nwarning = 3\ninfo = 4".to_owned(),
        default_severity: "3".to_owned(),
        component_label: "service".to_owned(),
        ..Default::default()
    }
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &sources_page(&state, &user, layout, blank_form(), FieldErrors::new()).await?)
}

/// Keeps a new token in the session until the source's page shows it (once).
fn keep_token(session: &Session, id: AlertSourceId, token: &str) -> Result<(), AppError> {
    session.insert(NEW_TOKEN, (id.0, token)).map_err(AppError::unexpected)
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<SourceInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::create(&state.pool, &user.actor(), &form).await {
        Ok((source, token)) => {
            keep_token(&session, source.id, &token)?;
            session::flash(&session, FlashKind::Success, format!("Added the alert source {}.", source.name));
            Ok(see_other(&format!("/admin/alert-sources/{}", source.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &sources_page(&state, &user, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/alert_sources_edit.html")]
pub struct SourcePage {
    pub layout: Layout,
    pub source: AlertSource,
    pub form: SourceInput,
    pub errors: FieldErrors,
    pub choices: Choices,
    pub hook_url: String,
    /// The token, right after it was made; never again.
    pub new_token: Option<String>,
    pub retention_days: i64,
}

impl SourcePage {
    /// The token in the examples: the real one while it is shown, else a placeholder.
    pub fn example_token(&self) -> &str {
        self.new_token.as_deref().unwrap_or("YOUR_TOKEN")
    }

    pub fn is_alertmanager(&self) -> bool {
        self.source.kind() == SourceKind::Alertmanager
    }

    pub fn is_grafana(&self) -> bool {
        self.source.kind() == SourceKind::Grafana
    }

    pub fn is_generic(&self) -> bool {
        self.source.kind() == SourceKind::Generic
    }

    /// A shell-quoted curl command that sends a test payload of the source's kind.
    pub fn curl_example(&self) -> String {
        let body = match self.source.kind() {
            SourceKind::Generic => serde_json::json!({
                "title": "Disk almost full on db-1",
                "status": "firing",
                "severity": "SEV3",
                "component": "Database",
                "fingerprint": "disk-db-1",
                "url": "https://grafana.example.com/d/disk",
            }),
            kind => {
                let mut labels = serde_json::Map::new();
                labels.insert("alertname".into(), "TestAlert".into());
                labels.insert(self.source.severity_label.clone(), "critical".into());
                let mut v = serde_json::json!({
                    "version": if kind == SourceKind::Grafana { "1" } else { "4" },
                    "status": "firing",
                    "groupKey": "{}:{alertname=\"TestAlert\"}",
                    "alerts": [{
                        "status": "firing",
                        "labels": labels,
                        "annotations": { "summary": "A test alert sent by hand" },
                        "startsAt": "2026-01-01T00:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": "test-alert",
                    }],
                });
                if kind == SourceKind::Grafana {
                    v["title"] = "[FIRING:1] TestAlert".into();
                    v["state"] = "alerting".into();
                }
                v
            }
        };
        format!(
            "curl -X POST '{}' \\\n  -H 'Authorization: Bearer {}' \\\n  -H 'Content-Type: application/json' \\\n  --data '{}'",
            self.hook_url,
            self.example_token(),
            body.to_string().replace('\'', "'\\''")
        )
    }

    /// The receiver for alertmanager.yml.
    pub fn alertmanager_example(&self) -> String {
        format!(
            "route:\n  receiver: firebreak\n  group_by: [alertname, {label}]\nreceivers:\n  - name: firebreak\n    webhook_configs:\n      - url: '{url}'\n        send_resolved: true\n        http_config:\n          authorization:\n            type: Bearer\n            credentials: '{token}'\n",
            label = self.source.component_label,
            url = self.hook_url,
            token = self.example_token()
        )
    }
}

/// The hook URL of a source.
pub fn hook_url(base: &url::Url, source: &AlertSource) -> String {
    format!("{}/hooks/alerts/{}", base.as_str().trim_end_matches('/'), source.public_id)
}

async fn source_page(
    state: &AppState,
    layout: Layout,
    id: AlertSourceId,
    refused: Option<(SourceInput, FieldErrors)>,
    new_token: Option<String>,
) -> Result<SourcePage, AppError> {
    let mut conn = state.pool.get().await?;
    let source = db::find_source(&mut conn, id).await?.ok_or(AppError::NotFound)?;
    let (form, errors) = refused.unwrap_or_else(|| (SourceInput::from_source(&source), FieldErrors::new()));
    Ok(SourcePage {
        layout: layout.at("admin"),
        hook_url: hook_url(&state.settings.base_url, &source),
        source,
        form,
        errors,
        choices: Choices::new(),
        new_token,
        retention_days: PAYLOAD_RETENTION_DAYS,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<AlertSourceId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let new_token = match session.get::<(i64, String)>(NEW_TOKEN) {
        Ok(Some((for_id, token))) if for_id == id.0 => {
            session.remove(NEW_TOKEN);
            Some(token)
        }
        _ => None,
    };
    let mut response = render(StatusCode::OK, &source_page(&state, layout, *id, None, new_token).await?)?;
    // The page may hold a secret: never keep it anywhere.
    response
        .headers_mut()
        .insert(actix_web::http::header::CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    id: web::Path<AlertSourceId>,
    CsrfForm(form): CsrfForm<SourceInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::update(&state.pool, &user.actor(), *id, &form).await {
        Ok(source) => {
            session::flash(&session, FlashKind::Success, format!("Saved the alert source {}.", source.name));
            Ok(see_other(&format!("/admin/alert-sources/{}", source.id)))
        }
        Err(ServiceError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &source_page(&state, layout, *id, Some((form, errors)), None).await?,
        ),
        Err(e) => Err(e.into()),
    }
}

pub async fn regenerate(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<AlertSourceId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (source, token) = svc::regenerate_token(&state.pool, &user.actor(), *id).await?;
    keep_token(&session, source.id, &token)?;
    session::flash(
        &session,
        FlashKind::Success,
        format!("Made a new token for {}; the old one no longer works.", source.name),
    );
    Ok(see_other(&format!("/admin/alert-sources/{}", source.id)))
}

async fn set_enabled(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    id: AlertSourceId,
    enabled: bool,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let source = svc::set_enabled(&state.pool, &user.actor(), id, enabled).await?;
    let message = if enabled {
        format!("Enabled {}: its payloads are accepted again.", source.name)
    } else {
        format!("Disabled {}: its payloads are refused until you enable it.", source.name)
    };
    session::flash(session, FlashKind::Success, message);
    Ok(see_other(&format!("/admin/alert-sources/{}", source.id)))
}

pub async fn disable(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<AlertSourceId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_enabled(&state, &user, &session, *id, false).await
}

pub async fn enable(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<AlertSourceId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    set_enabled(&state, &user, &session, *id, true).await
}

#[derive(Template)]
#[template(path = "admin/alert_sources_delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub source: AlertSource,
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<AlertSourceId>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut conn = state.pool.get().await?;
    let source = db::find_source(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    render(StatusCode::OK, &DeletePage { layout: layout.at("admin"), source })
}

pub async fn delete(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    id: web::Path<AlertSourceId>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let source = svc::delete(&state.pool, &user.actor(), *id).await?;
    session::flash(&session, FlashKind::Success, format!("Deleted the alert source {}.", source.name));
    Ok(see_other("/admin/alert-sources"))
}

/// One kept payload as the page shows it.
pub struct PayloadView {
    pub id: AlertPayloadId,
    pub received: String,
    pub received_iso: String,
    pub outcome: String,
    pub bytes: usize,
    /// Pretty-printed when it is JSON (it always is: only parsed payloads are kept).
    pub body: String,
}

impl PayloadView {
    fn of(p: Payload, tz: chrono_tz::Tz) -> Self {
        let body = serde_json::from_str::<serde_json::Value>(&p.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| p.body.clone());
        PayloadView {
            id: p.id,
            received: local_time(p.received_at, tz),
            received_iso: iso(p.received_at),
            outcome: p.outcome,
            bytes: p.body.len(),
            body,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/alert_sources_payloads.html")]
pub struct PayloadsPage {
    pub layout: Layout,
    pub source: AlertSource,
    pub payloads: Vec<PayloadView>,
    pub total: i64,
    pub retention_days: i64,
    /// The "older" link's `before` parameter, when there are more.
    pub older: Option<AlertPayloadId>,
    pub paged: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PayloadsQuery {
    pub before: Option<String>,
}

pub async fn payloads(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    id: web::Path<AlertSourceId>,
    query: web::Query<PayloadsQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let before = query.before.as_deref().and_then(|b| b.trim().parse::<AlertPayloadId>().ok());
    let since = Utc::now() - chrono::Duration::days(PAYLOAD_RETENTION_DAYS);
    let mut conn = state.pool.get().await?;
    let source = db::find_source(&mut conn, *id).await?.ok_or(AppError::NotFound)?;
    let total = db::count_payloads_since(&mut conn, source.id, since).await?;
    let mut rows = db::payloads_for(&mut conn, source.id, since, before, PAGE + 1).await?;
    let older = if rows.len() as i64 > PAGE {
        rows.truncate(PAGE as usize);
        rows.last().map(|p| p.id)
    } else {
        None
    };
    let payloads = rows.into_iter().map(|p| PayloadView::of(p, user.time_zone)).collect();
    let page = PayloadsPage {
        layout: layout.at("admin"),
        source,
        payloads,
        total,
        retention_days: PAYLOAD_RETENTION_DAYS,
        older,
        paged: before.is_some(),
    };
    render(StatusCode::OK, &page)
}
