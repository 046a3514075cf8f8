//! `/api/v1/incidents...`: list, get and declare incidents, read and add to
//! their timeline, read and send their stakeholder updates.
//!
//! Every handler authenticates first (`ApiActor`), then reads the path, query
//! and body, so an unauthenticated request learns nothing but "401". Input is
//! checked here exactly as `openapi.json` describes it, then handed to the
//! same services the web pages use.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::auth::ApiActor;
use super::error::ApiError;
use crate::db::incidents::{Incident, IncidentFilter};
use crate::db::timeline::Entry;
use crate::db::updates::Update;
use crate::db::{EntryId, IncidentId, components, incidents, timeline, updates};
use crate::domain::Role;
use crate::domain::incident::{DetectionSource, IncidentKind, IncidentStatus, Severity};
use crate::domain::status::{Audience, ComponentStatus};
use crate::domain::updates::NEXT_UPDATE_CHOICES;
use crate::services::incidents::{DeclareInput, can_view};
use crate::services::updates::{Sent, UpdateInput};
use crate::web::AppState;

type ApiResult = Result<HttpResponse, actix_web::Error>;

/// Fields whose messages a refused declaration can carry.
const DECLARE_FIELDS: &[&str] = &[
    "title",
    "severity",
    "kind",
    "detection_source",
    "environment",
    "components",
    "impact_started_at",
    "conference_url",
    "lead",
    "restricted",
];
const NOTE_FIELDS: &[&str] = &["body", "happened_at", "corrects"];
const UPDATE_FIELDS: &[&str] =
    &["status", "impact_started_at", "impact", "actions", "next_update", "audience", "groups", "component_status"];

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 100;
pub const MAX_PAGE: i64 = 100_000;

// ---------------------------------------------------------------- output

/// A moment in RFC 3339, UTC, whole seconds (`2026-11-21T14:05:00Z`).
pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Serialize)]
pub struct ComponentJson {
    pub id: i64,
    pub name: String,
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
pub struct IncidentJson {
    pub id: i64,
    pub public_id: String,
    pub url: String,
    pub title: String,
    /// What the public reads when it differs from `title`.
    pub public_title: Option<String>,
    pub summary: String,
    pub customer_impact: String,
    pub kind: &'static str,
    pub severity: i16,
    pub status: &'static str,
    pub environment: String,
    pub detection_source: &'static str,
    pub visibility: &'static str,
    pub conference_url: Option<String>,
    pub components: Vec<ComponentJson>,
    pub declared_by: Option<i64>,
    pub impact_started_at: String,
    pub detected_at: String,
    pub declared_at: String,
    pub acknowledged_at: Option<String>,
    pub mitigated_at: Option<String>,
    pub resolved_at: Option<String>,
    pub closed_at: Option<String>,
    pub status_changed_at: String,
    pub updated_at: String,
    pub version: i32,
}

async fn incident_json(
    conn: &mut diesel_async::AsyncPgConnection,
    state: &AppState,
    i: &Incident,
) -> Result<IncidentJson, ApiError> {
    let components = components::for_incident(conn, i.id)
        .await?
        .into_iter()
        .map(|c| ComponentJson {
            id: c.id.0,
            status: ComponentStatus::parse(&c.status).unwrap_or(ComponentStatus::Operational).as_str(),
            name: c.name,
        })
        .collect();
    Ok(IncidentJson {
        id: i.id.0,
        public_id: i.public_id.clone(),
        url: crate::email::compose::link(&state.settings, &format!("/incidents/{}", i.id)),
        title: i.title.clone(),
        public_title: (!i.public_title.trim().is_empty()).then(|| i.public_title.clone()),
        summary: i.summary.clone(),
        customer_impact: i.customer_impact.clone(),
        kind: i.kind().as_str(),
        severity: i.severity().level(),
        status: i.status().as_str(),
        environment: i.environment.clone(),
        detection_source: i.detection_source().as_str(),
        visibility: i.visibility().as_str(),
        conference_url: i.conference_url.clone(),
        components,
        declared_by: i.declared_by.map(|u| u.0),
        impact_started_at: time(i.impact_started_at),
        detected_at: time(i.detected_at),
        declared_at: time(i.declared_at),
        acknowledged_at: i.acknowledged_at.map(time),
        mitigated_at: i.mitigated_at.map(time),
        resolved_at: i.resolved_at.map(time),
        closed_at: i.closed_at.map(time),
        status_changed_at: time(i.status_changed_at),
        updated_at: time(i.updated_at),
        version: i.version,
    })
}

#[derive(Debug, Serialize)]
pub struct EntryJson {
    pub id: i64,
    pub incident_id: i64,
    pub kind: &'static str,
    pub occurred_at: String,
    pub recorded_at: String,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub body: String,
    pub highlighted: bool,
    pub corrects: Option<i64>,
}

fn entry_json(e: &Entry, author: Option<&String>) -> EntryJson {
    EntryJson {
        id: e.id.0,
        incident_id: e.incident_id.0,
        kind: e.kind().as_str(),
        occurred_at: time(e.occurred_at),
        recorded_at: time(e.recorded_at),
        author_id: e.author_id.map(|a| a.0),
        author_name: author.cloned(),
        body: e.body.clone(),
        highlighted: e.highlighted,
        corrects: e.corrects_id.map(|c| c.0),
    }
}

#[derive(Debug, Serialize)]
pub struct UpdateJson {
    pub id: i64,
    pub public_id: String,
    pub incident_id: i64,
    pub status: &'static str,
    pub audience: &'static str,
    pub impact: String,
    pub actions: String,
    pub impact_started_at: String,
    pub next_update_at: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub created_at: String,
}

fn update_json(u: &Update, sender: Option<&String>) -> UpdateJson {
    UpdateJson {
        id: u.id.0,
        public_id: u.public_id.clone(),
        incident_id: u.incident_id.0,
        status: IncidentStatus::parse(&u.status).unwrap_or(IncidentStatus::Investigating).as_str(),
        audience: u.audience().as_str(),
        impact: u.impact.clone(),
        actions: u.actions.clone(),
        impact_started_at: time(u.impact_started_at),
        next_update_at: u.next_update_at.map(time),
        subject: u.subject.clone(),
        body: u.body.clone(),
        created_by: u.created_by.map(|c| c.0),
        created_by_name: sender.cloned(),
        created_at: time(u.created_at),
    }
}

fn json(status: StatusCode, body: &impl Serialize) -> Result<HttpResponse, ApiError> {
    let text = serde_json::to_string(body).map_err(anyhow::Error::from)?;
    Ok(HttpResponse::build(status).content_type("application/json").body(text))
}

// ---------------------------------------------------------------- input

/// The JSON body, read only once the caller is known (the `JsonConfig` of
/// the API scope turns its errors into 400, 413 and 415).
async fn json_body<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, actix_web::Error> {
    let mut payload = payload.into_inner();
    Ok(web::Json::<T>::from_request(req, &mut payload).await?.into_inner())
}

/// Optional fields may be left out, but never be `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The `{id}` of the path: anything but a whole number finds nothing.
fn incident_id(req: &HttpRequest) -> Result<IncidentId, ApiError> {
    req.match_info().get("id").and_then(|s| s.parse::<i64>().ok()).map(IncidentId).ok_or(ApiError::NotFound)
}

/// Refused input, collected field by field before anything is written.
#[derive(Default)]
struct Refusals(Map<String, Value>);

impl Refusals {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| Value::String(message.into()));
    }

    /// Text of at most `max` characters (counted before trimming), without
    /// NUL characters (which PostgreSQL cannot store).
    fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, format!("Keep it to {max} characters at most."));
        }
        if value.contains('\0') {
            self.add(field, "Remove the NUL characters (\\u0000).");
        }
    }

    /// One of the listed values, exactly.
    fn one_of(&mut self, field: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.add(field, format!("Use one of: {}.", allowed.join(", ")));
        }
    }

    /// An RFC 3339 time, as the services read it (UTC, whole seconds).
    fn time(&mut self, field: &str, value: &str) -> String {
        let separator_ok = matches!(value.as_bytes().get(10), Some(b'T' | b't'));
        match DateTime::parse_from_rfc3339(value) {
            Ok(t) if separator_ok => t.with_timezone(&Utc).format(API_TIME_INPUT).to_string(),
            _ => {
                self.add(field, "Use an RFC 3339 date and time, e.g. 2026-11-21T14:05:00Z.");
                String::new()
            }
        }
    }

    fn done(self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::Invalid(self.0)) }
    }
}

macro_rules! as_strs {
    ($t:ty) => {
        <$t>::ALL.iter().map(|v| v.as_str()).collect::<Vec<&'static str>>()
    };
}

fn require_responder(actor: &ApiActor) -> Result<(), ApiError> {
    if actor.actor.role.allows(Role::Responder) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "This token's role ({}) may only read; this needs a responder token.",
            actor.actor.role
        )))
    }
}

/// Loads an incident the caller may see; restricted incidents that it may
/// not see do not exist for it (404).
async fn visible(
    conn: &mut diesel_async::AsyncPgConnection,
    actor: &ApiActor,
    id: IncidentId,
) -> Result<Incident, ApiError> {
    let incident = incidents::find(conn, id).await?.ok_or(ApiError::NotFound)?;
    if can_view(conn, &incident, &actor.actor).await? { Ok(incident) } else { Err(ApiError::NotFound) }
}

// ---------------------------------------------------------------- incidents

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListParams {
    status: Option<String>,
    severity: Option<String>,
    limit: Option<i64>,
    page: Option<i64>,
}

#[derive(Debug, Serialize)]
struct IncidentList {
    incidents: Vec<IncidentJson>,
    page: i64,
    limit: i64,
    total: i64,
    next_page: Option<i64>,
}

/// `GET /api/v1/incidents?status=&severity=&limit=&page=`: newest first.
pub async fn list(actor: ApiActor, state: web::Data<AppState>, req: HttpRequest) -> ApiResult {
    let params = web::Query::<ListParams>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("Bad query string: {e}")))?
        .into_inner();
    let statuses = match params.status.as_deref() {
        None | Some("all") => None,
        Some("active") => Some(vec!["investigating", "identified", "monitoring"]),
        Some(s) => match IncidentStatus::ALL.iter().find(|x| x.as_str() == s) {
            Some(x) => Some(vec![x.as_str()]),
            None => {
                return Err(ApiError::BadRequest(
                    "status must be all, active, investigating, identified, monitoring, resolved or closed.".into(),
                )
                .into());
            }
        },
    };
    let severity = match params.severity.as_deref().map(Severity::parse) {
        None => None,
        Some(Ok(s)) => Some(s.level()),
        Some(Err(_)) => return Err(ApiError::BadRequest("severity must be 1 to 4 or SEV1 to SEV4.".into()).into()),
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}.")).into());
    }
    let page = params.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ApiError::BadRequest(format!("page must be between 1 and {MAX_PAGE}.")).into());
    }
    let filter = IncidentFilter { statuses, severity, ..Default::default() };
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    let me = actor.actor.id.ok_or(ApiError::Unauthorized { token_sent: true })?;
    let (rows, total) =
        incidents::list(&mut conn, me, actor.actor.role == Role::Admin, &filter, limit, (page - 1) * limit)
            .await
            .map_err(ApiError::from)?;
    let mut out = Vec::with_capacity(rows.len());
    for i in &rows {
        out.push(incident_json(&mut conn, &state, i).await?);
    }
    let next_page = (page * limit < total).then_some(page + 1);
    Ok(json(StatusCode::OK, &IncidentList { incidents: out, page, limit, total, next_page })?)
}

/// `GET /api/v1/incidents/{id}`
pub async fn show(actor: ApiActor, state: web::Data<AppState>, req: HttpRequest) -> ApiResult {
    let id = incident_id(&req)?;
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    let incident = visible(&mut conn, &actor, id).await?;
    Ok(json(StatusCode::OK, &incident_json(&mut conn, &state, &incident).await?)?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclareBody {
    #[serde(default)]
    title: String,
    #[serde(default, deserialize_with = "present")]
    severity: Option<SeverityIn>,
    #[serde(default, deserialize_with = "present")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "present")]
    detection_source: Option<String>,
    #[serde(default, deserialize_with = "present")]
    environment: Option<String>,
    #[serde(default, deserialize_with = "present")]
    components: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "present")]
    impact_started_at: Option<String>,
    #[serde(default, deserialize_with = "present")]
    conference_url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    lead: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    restricted: Option<bool>,
}

/// How an RFC 3339 time reaches the services: UTC, read in the UTC zone.
const API_TIME_INPUT: &str = "%Y-%m-%dT%H:%M:%S";

/// A severity as people write it: 2 or "SEV2" (the service's rule reads both).
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a severity: 1 to 4 or \"SEV1\" to \"SEV4\"")]
enum SeverityIn {
    Level(i64),
    Name(String),
}

impl SeverityIn {
    fn into_input(self) -> String {
        match self {
            SeverityIn::Level(n) => n.to_string(),
            SeverityIn::Name(s) => s,
        }
    }
}

/// An http(s) URL made of the characters RFC 3986 allows (as the schema's pattern says).
fn url_shaped(value: &str) -> bool {
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || "-._~%!$&'()*+,;=:@/?#[]".contains(c))
    })
}

/// `POST /api/v1/incidents`: declares an incident as the token's user.
pub async fn declare(
    actor: ApiActor,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult {
    let body: DeclareBody = json_body(&req, payload).await?;
    require_responder(&actor)?;
    let mut r = Refusals::default();
    r.text("title", &body.title, 200);
    if body.title.chars().any(char::is_control) {
        r.add("title", "The title must be one line, without control characters.");
    }
    if let Some(k) = &body.kind {
        r.one_of("kind", k, &as_strs!(IncidentKind));
    }
    if let Some(d) = &body.detection_source {
        r.one_of("detection_source", d, &as_strs!(DetectionSource));
    }
    if let Some(e) = &body.environment {
        r.text("environment", e, 60);
    }
    let impact_started_at = body.impact_started_at.as_deref().map(|t| r.time("impact_started_at", t));
    if let Some(u) = &body.conference_url {
        r.text("conference_url", u, 2000);
        if !url_shaped(u) {
            r.add("conference_url", "Use a link starting with https:// or http://.");
        }
    }
    r.done()?;
    let input = DeclareInput {
        title: body.title,
        severity: body.severity.map(SeverityIn::into_input).unwrap_or_default(),
        components: body.components.unwrap_or_default().iter().map(i64::to_string).collect(),
        environment: body.environment.unwrap_or_default(),
        kind: body.kind.unwrap_or_default(),
        detection_source: body.detection_source.unwrap_or_default(),
        impact_started_at: impact_started_at.unwrap_or_default(),
        conference_url: body.conference_url.unwrap_or_default(),
        lead: body.lead.map(|l| l.to_string()).unwrap_or_default(),
        restricted: body.restricted.unwrap_or(false),
        page_oncall: false,
    };
    let incident =
        crate::services::incidents::declare(&state.pool, &state.settings, &actor.actor, chrono_tz::UTC, &input)
            .await
            .map_err(|e| ApiError::from_service(e, DECLARE_FIELDS))?;
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    let out = incident_json(&mut conn, &state, &incident).await?;
    let mut response = json(StatusCode::CREATED, &out)?;
    response.headers_mut().insert(
        LOCATION,
        format!("/api/v1/incidents/{}", incident.id)
            .parse()
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("{e}")))?,
    );
    Ok(response)
}

// ---------------------------------------------------------------- timeline

#[derive(Debug, Serialize)]
struct EntryList {
    entries: Vec<EntryJson>,
}

/// `GET /api/v1/incidents/{id}/timeline`: oldest first.
pub async fn timeline(actor: ApiActor, state: web::Data<AppState>, req: HttpRequest) -> ApiResult {
    let id = incident_id(&req)?;
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    visible(&mut conn, &actor, id).await?;
    let entries = timeline::list_for(&mut conn, id).await.map_err(ApiError::from)?;
    let entries = entries.iter().map(|(e, author)| entry_json(e, author.as_ref())).collect();
    Ok(json(StatusCode::OK, &EntryList { entries })?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    #[serde(default)]
    body: String,
    #[serde(default, deserialize_with = "present")]
    happened_at: Option<String>,
    #[serde(default, deserialize_with = "present")]
    corrects: Option<i64>,
}

/// `POST /api/v1/incidents/{id}/timeline`: adds a note (Markdown).
pub async fn add_note(
    actor: ApiActor,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult {
    let id = incident_id(&req)?;
    let body: NoteBody = json_body(&req, payload).await?;
    require_responder(&actor)?;
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    let incident = visible(&mut conn, &actor, id).await?;
    let mut r = Refusals::default();
    r.text("body", &body.body, 20_000);
    let happened_at = body.happened_at.as_deref().map(|t| r.time("happened_at", t)).unwrap_or_default();
    if let Some(c) = body.corrects
        && timeline::find_in(&mut conn, incident.id, EntryId(c)).await.map_err(ApiError::from)?.is_none()
    {
        r.add("corrects", "There is no such entry in this incident's timeline.");
    }
    r.done()?;
    drop(conn);
    crate::services::incidents::add_note(
        &state.pool,
        &actor.actor,
        chrono_tz::UTC,
        id,
        &body.body,
        &happened_at,
        body.corrects.map(EntryId),
    )
    .await
    .map_err(|e| ApiError::from_service(e, NOTE_FIELDS))?;
    // The note just written: this author's latest note with this text.
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    let entries = timeline::list_for(&mut conn, id).await.map_err(ApiError::from)?;
    let text = body.body.trim();
    let (entry, author) = entries
        .iter()
        .filter(|(e, _)| e.author_id == actor.actor.id && e.kind == "note" && e.body == text)
        .max_by_key(|(e, _)| e.id)
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("the note just added is missing")))?;
    Ok(json(StatusCode::CREATED, &entry_json(entry, author.as_ref()))?)
}

// ---------------------------------------------------------------- updates

#[derive(Debug, Serialize)]
struct UpdateList {
    updates: Vec<UpdateJson>,
}

/// `GET /api/v1/incidents/{id}/updates`: newest first.
pub async fn list_updates(actor: ApiActor, state: web::Data<AppState>, req: HttpRequest) -> ApiResult {
    let id = incident_id(&req)?;
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    visible(&mut conn, &actor, id).await?;
    let rows = updates::list_for(&mut conn, id).await.map_err(ApiError::from)?;
    let updates = rows.iter().map(|(u, sender)| update_json(u, sender.as_ref())).collect();
    Ok(json(StatusCode::OK, &UpdateList { updates })?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentStatusBody {
    component: i64,
    status: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    status: String,
    #[serde(default, deserialize_with = "present")]
    impact_started_at: Option<String>,
    #[serde(default)]
    impact: String,
    #[serde(default)]
    actions: String,
    #[serde(default, deserialize_with = "present")]
    next_update: Option<i64>,
    #[serde(default)]
    audience: String,
    #[serde(default, deserialize_with = "present")]
    groups: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "present")]
    component_status: Option<Vec<ComponentStatusBody>>,
}

/// `POST /api/v1/incidents/{id}/updates`: sends a stakeholder update, as the
/// room's compose form does (the token's user must be the incident's lead or
/// communications lead, or the token an admin one).
pub async fn send_update(
    actor: ApiActor,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult {
    let id = incident_id(&req)?;
    let body: UpdateBody = json_body(&req, payload).await?;
    require_responder(&actor)?;
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    let incident = visible(&mut conn, &actor, id).await?;
    if !crate::services::updates::may_send(&mut conn, id, &actor.actor).await.map_err(ApiError::from)? {
        return Err(ApiError::Forbidden(
            "Only the incident's communications lead or lead (or an admin token) sends updates.".into(),
        )
        .into());
    }
    drop(conn);
    let mut r = Refusals::default();
    let statuses: Vec<&str> = as_strs!(IncidentStatus).into_iter().filter(|s| *s != "closed").collect();
    r.one_of("status", &body.status, &statuses);
    // Left out, it is what the incident already records.
    let impact_started_at = match &body.impact_started_at {
        Some(t) => r.time("impact_started_at", t),
        None => incident.impact_started_at.format(API_TIME_INPUT).to_string(),
    };
    r.text("impact", &body.impact, 5000);
    r.text("actions", &body.actions, 5000);
    if let Some(n) = body.next_update
        && !NEXT_UPDATE_CHOICES.contains(&n)
    {
        r.add("next_update", "Use one of 15, 30, 60, 120, 240 or 480 (minutes).");
    }
    r.one_of("audience", &body.audience, &as_strs!(Audience));
    let component_status: Vec<String> = body
        .component_status
        .unwrap_or_default()
        .iter()
        .map(|c| {
            r.one_of("component_status", &c.status, &as_strs!(ComponentStatus));
            format!("{}:{}", c.component, c.status)
        })
        .collect();
    r.done()?;
    let input = UpdateInput {
        status: body.status,
        impact_started_at,
        impact: body.impact,
        actions: body.actions,
        next_update: body.next_update.map(|n| n.to_string()).unwrap_or_default(),
        audience: body.audience,
        groups: body.groups.unwrap_or_default().iter().map(i64::to_string).collect(),
        component_status,
        action: "send".to_owned(),
        idempotency_key: idempotency_key(&req)?,
        ..UpdateInput::default()
    };
    let sent = crate::services::updates::send(&state.pool, &state.settings, &actor.actor, chrono_tz::UTC, id, &input)
        .await
        .map_err(|e| ApiError::from_service(e, UPDATE_FIELDS))?;
    // A retry with the same Idempotency-Key answers with the update it sent.
    let (status, update) = match sent {
        Sent::Sent(update) => (StatusCode::CREATED, update),
        Sent::AlreadySent(update) => (StatusCode::OK, update),
        Sent::PreviewChanged(_) => return Err(ApiError::Unexpected(anyhow::anyhow!("the API sends no preview")).into()),
    };
    let mut conn = state.pool.get().await.map_err(ApiError::from)?;
    let sender = match update.created_by {
        Some(u) => crate::db::users::find(&mut conn, u).await.map_err(ApiError::from)?.map(|u| u.display_name),
        None => None,
    };
    Ok(json(status, &update_json(&update, sender.as_ref()))?)
}

/// The `Idempotency-Key` header, when given: one update per key.
fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else { return Ok(String::new()) };
    match value.to_str() {
        Ok(key) if !key.trim().is_empty() && key.len() <= 200 => Ok(key.trim().to_owned()),
        _ => Err(ApiError::BadRequest("The Idempotency-Key header must be 1 to 200 visible ASCII characters.".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_links_of_uri_characters_are_url_shaped() {
        assert!(url_shaped("https://meet.example.com/abc?x=1#y"));
        assert!(url_shaped("http://[::1]:8080/"));
        assert!(!url_shaped("https://"));
        assert!(!url_shaped("ftp://example.com"));
        assert!(!url_shaped("HTTPS://example.com"));
        assert!(!url_shaped("https://example.com/a b"));
    }

    #[test]
    fn times_are_rfc_3339_with_a_t() {
        let mut r = Refusals::default();
        assert_eq!(r.time("t", "2026-11-21T14:05:00+01:00"), "2026-11-21T13:05:00");
        assert_eq!(r.time("t", "2026-11-21t14:05:00.5z"), "2026-11-21T14:05:00");
        assert!(r.0.is_empty());
        r.time("t", "2026-11-21 14:05:00Z");
        assert!(r.0.contains_key("t"));
    }
}
