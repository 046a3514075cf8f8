//! On call: `/oncall` (who is on call now and next, per schedule), schedule
//! pages (the next 14 days of shifts, layers, overrides), escalation
//! policies, routing (which policy pages per alert source and severity), the
//! acknowledge link, paging from the room, calendar feeds and the API.

pub mod ack;
pub mod api;
pub mod feeds;
pub mod me;
pub mod policies;
pub mod reports;
pub mod room;

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use chrono::{Duration, Utc};

use crate::db::schedules::{self, LayerWithMembers, Schedule};
use crate::db::{LayerId, ScheduleId, UserId, users};
use crate::domain::{Role, TimeZoneName};
use crate::services::oncall::{self as svc, LayerInput, OverrideInput, ScheduleInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::incidents::local_time;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

/// How far ahead a schedule's page shows shifts.
pub const SHOW_DAYS: i64 = 14;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/oncall", web::get().to(overview))
        .route("/oncall/schedules", web::post().to(create_schedule))
        .route("/oncall/schedules/{id}", web::get().to(show_schedule))
        .route("/oncall/schedules/{id}/layers", web::post().to(add_layer))
        .route("/oncall/schedules/{id}/layers/{layer}/delete", web::post().to(delete_layer))
        .route("/oncall/schedules/{id}/overrides", web::post().to(add_override))
        .route("/oncall/schedules/{id}/take", web::post().to(take_shift))
        .configure(policies::configure)
        .configure(ack::configure)
        .configure(room::configure)
        .configure(feeds::configure)
        .configure(me::configure)
        .configure(reports::configure)
        .configure(api::configure);
}

/// One schedule on `/oncall`.
pub struct OverviewRow {
    pub schedule: Schedule,
    pub now: Option<String>,
    pub now_until: String,
    pub next: Option<String>,
    pub next_from: String,
}

#[derive(Template)]
#[template(path = "oncall/index.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub rows: Vec<OverviewRow>,
    pub form: ScheduleInput,
    pub errors: FieldErrors,
    pub time_zones: Vec<&'static str>,
}

async fn overview_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    form: ScheduleInput,
    errors: FieldErrors,
) -> Result<OverviewPage, AppError> {
    let mut conn = state.pool.get().await?;
    let now = Utc::now();
    let rotations = schedules::rotations(&mut conn, None, now).await?;
    let names = users::display_names(&mut conn).await?;
    drop(conn);
    let name = |u: &UserId| names.get(u).cloned().unwrap_or_else(|| format!("user {u}"));
    let rows = rotations
        .into_iter()
        .map(|(schedule, rotation)| {
            let (current, next) = rotation.now_and_next(now, Duration::days(SHOW_DAYS));
            OverviewRow {
                now: current.as_ref().map(|s| name(&s.user)),
                now_until: current.as_ref().map(|s| local_time(s.end, user.time_zone)).unwrap_or_default(),
                next: next.as_ref().map(|s| name(&s.user)),
                next_from: next.as_ref().map(|s| local_time(s.start, user.time_zone)).unwrap_or_default(),
                schedule,
            }
        })
        .collect();
    Ok(OverviewPage { layout: layout.at("oncall"), rows, form, errors, time_zones: TimeZoneName::all_names() })
}

pub async fn overview(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    let form = ScheduleInput { time_zone: user.time_zone.name().to_owned(), ..Default::default() };
    render(StatusCode::OK, &overview_page(&state, &user, layout, form, FieldErrors::new()).await?)
}

pub async fn create_schedule(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<ScheduleInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    match svc::create_schedule(&state.pool, &user.actor(), &form).await {
        Ok(s) => {
            session::flash(&session, FlashKind::Success, format!("Schedule “{}” created. Add a layer to it.", s.name));
            Ok(see_other(&format!("/oncall/schedules/{}", s.id)))
        }
        Err(ServiceError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &overview_page(&state, &user, layout, form, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// A shift on a schedule's page.
pub struct ShiftRow {
    pub who: String,
    pub from: String,
    pub to: String,
    pub hours: String,
}

/// A layer on a schedule's page.
pub struct LayerRow {
    pub id: LayerId,
    pub number: usize,
    pub people: Vec<String>,
    pub rotation: String,
    pub applies: String,
}

#[derive(Template)]
#[template(path = "oncall/schedule.html")]
pub struct SchedulePage {
    pub layout: Layout,
    pub schedule: Schedule,
    pub shifts: Vec<ShiftRow>,
    pub now: Option<String>,
    pub layers: Vec<LayerRow>,
    pub can_admin: bool,
    pub layer_form: LayerInput,
    pub layer_errors: FieldErrors,
    pub override_form: OverrideInput,
    pub override_errors: FieldErrors,
    pub take_error: Option<String>,
}

fn describe_layer(l: &LayerWithMembers) -> (String, String) {
    let x = &l.layer;
    let rotation = format!(
        "every {} {} from {} at {}",
        x.shift_length,
        x.shift_unit,
        x.start_date.format("%Y-%m-%d"),
        x.handoff_time.format("%H:%M")
    );
    let applies = match (x.restrict_start, x.restrict_end) {
        (Some(s), Some(e)) => format!(
            "{} {}–{}",
            if x.restrict_weekdays == 0b001_1111 { "weekdays" } else { "every day" },
            s.format("%H:%M"),
            e.format("%H:%M")
        ),
        _ => "all the time".to_owned(),
    };
    (rotation, applies)
}

struct Forms {
    layer: LayerInput,
    layer_errors: FieldErrors,
    over: OverrideInput,
    override_errors: FieldErrors,
    take_error: Option<String>,
}

impl Default for Forms {
    fn default() -> Self {
        Forms {
            layer: LayerInput {
                start_date: Utc::now().format("%Y-%m-%d").to_string(),
                handoff_time: "09:00".to_owned(),
                shift_length: "1".to_owned(),
                shift_unit: "weeks".to_owned(),
                ..Default::default()
            },
            layer_errors: FieldErrors::new(),
            over: OverrideInput::default(),
            override_errors: FieldErrors::new(),
            take_error: None,
        }
    }
}

async fn schedule_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    id: ScheduleId,
    forms: Forms,
) -> Result<SchedulePage, AppError> {
    let mut conn = state.pool.get().await?;
    let now = Utc::now();
    let (schedule, rotation) =
        schedules::rotations(&mut conn, Some(&[id]), now).await?.into_iter().next().ok_or(AppError::NotFound)?;
    let layers = schedules::layers(&mut conn, Some(&[id])).await?;
    let names = users::display_names(&mut conn).await?;
    let emails: std::collections::HashMap<UserId, String> =
        users::list(&mut conn).await?.into_iter().map(|u| (u.id, u.email)).collect();
    drop(conn);
    let name = |u: &UserId| names.get(u).cloned().unwrap_or_else(|| format!("user {u}"));
    let shifts: Vec<_> = rotation.shifts(now, now + Duration::days(SHOW_DAYS));
    let current = shifts.first().filter(|s| s.start == now).map(|s| name(&s.user));
    let shifts = shifts
        .iter()
        .map(|s| ShiftRow {
            who: name(&s.user),
            from: local_time(s.start, user.time_zone),
            to: local_time(s.end, user.time_zone),
            hours: format!("{:.1}", (s.end - s.start).num_minutes() as f64 / 60.0),
        })
        .collect();
    let layers = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (rotation, applies) = describe_layer(l);
            LayerRow {
                id: l.layer.id,
                number: i + 1,
                people: l
                    .members
                    .iter()
                    .map(|u| format!("{} ({})", name(u), emails.get(u).cloned().unwrap_or_default()))
                    .collect(),
                rotation,
                applies,
            }
        })
        .collect();
    Ok(SchedulePage {
        layout: layout.at("oncall"),
        schedule,
        shifts,
        now: current,
        layers,
        can_admin: user.is_admin(),
        layer_form: forms.layer,
        layer_errors: forms.layer_errors,
        override_form: forms.over,
        override_errors: forms.override_errors,
        take_error: forms.take_error,
    })
}

pub async fn show_schedule(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    path: web::Path<ScheduleId>,
) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, &schedule_page(&state, &user, layout, path.into_inner(), Forms::default()).await?)
}

pub async fn add_layer(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    path: web::Path<ScheduleId>,
    CsrfForm(form): CsrfForm<LayerInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let id = path.into_inner();
    match svc::add_layer(&state.pool, &user.actor(), id, &form).await {
        Ok(()) => {
            session::flash(&session, FlashKind::Success, "Layer added.");
            Ok(see_other(&format!("/oncall/schedules/{id}")))
        }
        Err(ServiceError::Invalid(errors)) => {
            let forms = Forms { layer: form, layer_errors: errors, ..Default::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &schedule_page(&state, &user, layout, id, forms).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_layer(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<(ScheduleId, LayerId)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let (id, layer) = path.into_inner();
    svc::delete_layer(&state.pool, &user.actor(), id, layer).await?;
    session::flash(&session, FlashKind::Success, "Layer removed.");
    Ok(see_other(&format!("/oncall/schedules/{id}")))
}

pub async fn add_override(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    path: web::Path<ScheduleId>,
    CsrfForm(form): CsrfForm<OverrideInput>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let id = path.into_inner();
    match svc::add_override(&state.pool, &user.actor(), id, &form).await {
        Ok(()) => {
            session::flash(&session, FlashKind::Success, "Override added.");
            Ok(see_other(&format!("/oncall/schedules/{id}")))
        }
        Err(ServiceError::Invalid(errors)) => {
            let forms = Forms { over: form, override_errors: errors, ..Default::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &schedule_page(&state, &user, layout, id, forms).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn take_shift(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    path: web::Path<ScheduleId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Responder)?;
    let id = path.into_inner();
    match svc::take_current_shift(&state.pool, &user.actor(), id).await {
        Ok(()) => {
            session::flash(&session, FlashKind::Success, "You are on call for the rest of the current shift.");
            Ok(see_other(&format!("/oncall/schedules/{id}")))
        }
        Err(ServiceError::Invalid(errors)) => {
            let forms = Forms { take_error: errors.get("take").map(str::to_owned), ..Default::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &schedule_page(&state, &user, layout, id, forms).await?)
        }
        Err(e) => Err(e.into()),
    }
}
