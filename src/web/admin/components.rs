//! `/admin/components`: the services incidents affect. (Editing, ordering and
//! per-component status history arrive with the status page.)

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::audit_log::{self, NewAuditEntry};
use crate::db::components::{self, Component};
use crate::domain::Role;
use crate::domain::incident::parse_short_text;
use crate::services::FieldErrors;
use crate::startup::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::session::{self, FlashKind};
use crate::web::{AppError, CurrentUser, Layout, render, see_other};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ComponentForm {
    pub name: String,
    pub description: String,
    pub group_name: String,
}

#[derive(Template)]
#[template(path = "admin/components.html")]
pub struct ComponentsPage {
    pub layout: Layout,
    pub components: Vec<Component>,
    pub form: ComponentForm,
    pub errors: FieldErrors,
}

async fn page(
    state: &AppState,
    layout: Layout,
    form: ComponentForm,
    errors: FieldErrors,
) -> Result<ComponentsPage, AppError> {
    let mut conn = state.pool.get().await?;
    let components = components::list(&mut conn).await?;
    Ok(ComponentsPage { layout: layout.at("components"), components, form, errors })
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser, layout: Layout) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    render(StatusCode::OK, &page(&state, layout, ComponentForm::default(), FieldErrors::new()).await?)
}

pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    layout: Layout,
    session: Session,
    CsrfForm(form): CsrfForm<ComponentForm>,
) -> Result<HttpResponse, AppError> {
    user.require(Role::Admin)?;
    let mut errors = FieldErrors::new();
    let name = errors.check("name", parse_short_text(&form.name, "name", 80)).unwrap_or_default();
    if name.is_empty() && errors.get("name").is_none() {
        errors.add("name", "Name the component, e.g. \"API\" or \"Checkout\".");
    }
    let description =
        errors.check("description", parse_short_text(&form.description, "description", 500)).unwrap_or_default();
    let group = errors.check("group_name", parse_short_text(&form.group_name, "group", 80)).unwrap_or_default();
    let mut conn = state.pool.get().await?;
    if errors.is_empty() && components::list(&mut conn).await?.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
        errors.add("name", "A component with this name exists already.");
    }
    if !errors.is_empty() {
        drop(conn);
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page(&state, layout, form, errors).await?);
    }
    use diesel_async::AsyncConnection;
    let actor = user.actor();
    conn.transaction(async |conn| {
        let c = components::insert(conn, &name, &description, &group).await?;
        audit_log::insert(
            conn,
            &NewAuditEntry {
                actor_id: actor.id,
                action: "component.add",
                subject: &c.name,
                detail: "",
                client_addr: actor.client_addr.as_deref(),
            },
        )
        .await
    })
    .await?;
    session::flash(&session, FlashKind::Success, format!("Added the component {name}."));
    Ok(see_other("/admin/components"))
}
