//! `/oncall/me`: a person's contact methods (added, verified by code,
//! removed), notification rules, and their secret calendar link.

use actix_session::Session;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, ServiceConfig};
use askama::Template;
use serde::Deserialize;

use crate::db::ContactMethodId;
use crate::db::contact_methods::{self, ContactMethod};
use crate::services::contact_methods::{self as svc, MethodInput, RuleInput};
use crate::services::{FieldErrors, ServiceError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/oncall/me", web::get().to(show))
        .route("/oncall/me/methods", web::post().to(add_method))
        .route("/oncall/me/methods/{id}/verify", web::post().to(verify))
        .route("/oncall/me/methods/{id}/delete", web::post().to(remove))
        .route("/oncall/me/rules", web::post().to(add_rule))
        .route("/oncall/me/rules/{id}/delete", web::post().to(remove_rule));
}

pub struct RuleRow {
    pub id: i64,
    pub method: String,
    pub delay_minutes: i32,
}

#[derive(Template)]
#[template(path = "oncall/me.html")]
pub struct MePage {
    pub layout: Layout,
    pub email: String,
    pub methods: Vec<ContactMethod>,
    pub rules: Vec<RuleRow>,
    pub method_form: MethodInput,
    pub method_errors: FieldErrors,
    pub rule_form: RuleInput,
    pub rule_errors: FieldErrors,
    /// The method whose code was refused, and why.
    pub code_error: Option<(ContactMethodId, String)>,
}

impl MePage {
    pub fn code_error_for(&self, id: &ContactMethodId) -> Option<&str> {
        self.code_error.as_ref().filter(|(m, _)| m == id).map(|(_, e)| e.as_str())
    }
}

#[derive(Default)]
struct Forms {
    method: MethodInput,
    method_errors: FieldErrors,
    rule: RuleInput,
    rule_errors: FieldErrors,
    code_error: Option<(ContactMethodId, String)>,
}

async fn page(state: &AppState, user: &CurrentUser, layout: Layout, forms: Forms) -> Result<MePage, AppError> {
    let mut conn = state.pool.get().await?;
    let methods = contact_methods::for_user(&mut conn, user.id).await?;
    let rules = contact_methods::rules_for(&mut conn, user.id)
        .await?
        .into_iter()
        .map(|r| RuleRow {
            id: r.id,
            method: methods.iter().find(|m| m.id == r.contact_method_id).map(|m| m.label.clone()).unwrap_or_default(),
            delay_minutes: r.delay_minutes,
        })
        .collect();
    Ok(MePage {
        layout: layout.at("oncall"),
        email: user.email.clone(),
        methods,
        rules,
        method_form: forms.method,
        method_errors: forms.method_errors,
        rule_form: forms.rule,
        rule_errors: forms.rule_errors,
        code_error: forms.code_error,
    })
}

pub async fn show(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    let forms = Forms {
        method: MethodInput { kind: "ntfy".to_owned(), ..Default::default() },
        rule: RuleInput { delay_minutes: "0".to_owned(), ..Default::default() },
        ..Default::default()
    };
    render(StatusCode::OK, &page(&state, &user, layout, forms).await?)
}

pub async fn add_method(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<MethodInput>,
) -> Result<HttpResponse, AppError> {
    match svc::add(&state.pool, &state.settings, &user.actor(), &form).await {
        Ok(secret) => {
            session::flash(&session, FlashKind::Success, "Added. Enter the code we sent through it to start using it.");
            if let Some(secret) = secret {
                session::flash(
                    &session,
                    FlashKind::Warning,
                    format!(
                        "Signing secret: {secret} — copy it now, it is not shown again. Every request carries                          X-Firebreak-Timestamp and X-Firebreak-Signature: sha256= and the HMAC-SHA256 of                          \"<timestamp>.<body>\" with this secret."
                    ),
                );
            }
            Ok(see_other("/oncall/me"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let forms = Forms { method: form, method_errors: errors, ..Default::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &user, layout, forms).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    pub code: String,
}

pub async fn verify(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    path: web::Path<ContactMethodId>,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    match svc::verify(&state.pool, &user.actor(), id, &form.code).await {
        Ok(()) => {
            session::flash(&session, FlashKind::Success, "Verified. Add a notification rule to use it.");
            Ok(see_other("/oncall/me"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let message = errors.get("code").unwrap_or("That is not the code we sent.").to_owned();
            let forms = Forms { code_error: Some((id, message)), ..Default::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &user, layout, forms).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn remove(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<ContactMethodId>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    svc::remove(&state.pool, &user.actor(), path.into_inner()).await?;
    session::flash(&session, FlashKind::Success, "Contact method removed.");
    Ok(see_other("/oncall/me"))
}

pub async fn add_rule(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<RuleInput>,
) -> Result<HttpResponse, AppError> {
    match svc::add_rule(&state.pool, &user.actor(), &form).await {
        Ok(()) => {
            session::flash(&session, FlashKind::Success, "Notification rule added.");
            Ok(see_other("/oncall/me"))
        }
        Err(ServiceError::Invalid(errors)) => {
            let forms = Forms { rule: form, rule_errors: errors, ..Default::default() };
            render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, &user, layout, forms).await?)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn remove_rule(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    svc::remove_rule(&state.pool, &user.actor(), path.into_inner()).await?;
    session::flash(&session, FlashKind::Success, "Notification rule removed.");
    Ok(see_other("/oncall/me"))
}
