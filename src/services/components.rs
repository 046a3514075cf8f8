//! Admins manage components (the services the status page shows) and set
//! their status by hand. Every change is audited; status changes are also
//! logged per component and wake the status page.

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::{Actor, FieldErrors, ServiceError, audit};
use crate::db::component_status::{self, Cause};
use crate::db::components::{self, Component, ComponentFields};
use crate::db::{ComponentId, DbPool};
use crate::domain::Role;
use crate::domain::status::ComponentStatus;

/// The raw values of the component form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct ComponentInput {
    pub name: String,
    pub description: String,
    pub group_name: String,
    pub position: String,
}

/// The form's values, checked.
struct Checked {
    name: String,
    description: String,
    group_name: String,
    position: Option<i32>,
}

pub(crate) fn require_admin(actor: &Actor) -> Result<(), ServiceError> {
    if actor.role == Role::Admin { Ok(()) } else { Err(ServiceError::Forbidden("only admins manage this")) }
}

/// Trimmed one-line text of at most `max` characters.
pub(crate) fn one_line(input: &str, what: &str, max: usize) -> Result<String, String> {
    let t = input.trim();
    if t.chars().count() > max {
        return Err(format!("Keep the {what} under {max} characters."));
    }
    if t.chars().any(char::is_control) {
        return Err(format!("The {what} must be one line."));
    }
    Ok(t.to_owned())
}

/// Whether a write failed on a unique index.
pub(crate) fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

fn check(input: &ComponentInput) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", one_line(&input.name, "name", 80)).unwrap_or_default();
    if name.is_empty() && errors.get("name").is_none() {
        errors.add("name", "Name the component, e.g. \"API\" or \"Checkout\".");
    }
    let description = errors.check("description", one_line(&input.description, "description", 500));
    let group_name = errors.check("group_name", one_line(&input.group_name, "group", 80));
    let position = errors.check(
        "position",
        match input.position.trim() {
            "" => Ok(None),
            p => match p.parse::<i32>() {
                Ok(n) if (0..=10_000).contains(&n) => Ok(Some(n)),
                _ => Err("Enter a whole number from 0 to 10000 (lower comes first).".to_owned()),
            },
        },
    );
    match (description, group_name, position) {
        (Some(description), Some(group_name), Some(position)) if errors.is_empty() => {
            Ok(Checked { name, description, group_name, position })
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

fn duplicate_name() -> ServiceError {
    ServiceError::Invalid(FieldErrors::single("name", "A component with this name exists already."))
}

/// Adds a component; without a position it goes last in its group.
pub async fn create(pool: &DbPool, actor: &Actor, input: &ComponentInput) -> Result<Component, ServiceError> {
    require_admin(actor)?;
    let c = check(input)?;
    let mut conn = pool.get().await?;
    if components::find_by_name(&mut conn, &c.name).await?.is_some() {
        return Err(duplicate_name());
    }
    conn.transaction(async |conn| {
        let position = match c.position {
            Some(p) => p,
            None => components::next_position(conn, &c.group_name).await?,
        };
        let fields =
            ComponentFields { name: &c.name, description: &c.description, group_name: &c.group_name, position };
        // The check above can lose a race; the unique index cannot.
        let added = match components::insert_fields(conn, &fields).await {
            Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
            other => other?,
        };
        let detail = if added.group_name.is_empty() {
            format!("position {}", added.position)
        } else {
            format!("group {}, position {}", added.group_name, added.position)
        };
        audit(conn, actor, "component.add", &added.name, &detail).await?;
        // The public page lists every component.
        component_status::notify_status_changed(conn).await?;
        Ok(added)
    })
    .await
}

/// Changes a component's name, description, group and position.
pub async fn update(
    pool: &DbPool,
    actor: &Actor,
    id: ComponentId,
    input: &ComponentInput,
) -> Result<Component, ServiceError> {
    require_admin(actor)?;
    let c = check(input)?;
    let mut conn = pool.get().await?;
    if components::find_by_name(&mut conn, &c.name).await?.is_some_and(|other| other.id != id) {
        return Err(duplicate_name());
    }
    let now = Utc::now();
    conn.transaction(async |conn| {
        let before = components::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
        let fields = ComponentFields {
            name: &c.name,
            description: &c.description,
            group_name: &c.group_name,
            position: c.position.unwrap_or(before.position),
        };
        let after = match components::update_fields(conn, id, &fields, now).await {
            Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
            other => other?.ok_or(ServiceError::NotFound)?,
        };
        let mut changes = Vec::new();
        if before.name != after.name {
            changes.push(format!("name: {} → {}", before.name, after.name));
        }
        if before.description != after.description {
            changes.push("description changed".to_owned());
        }
        if before.group_name != after.group_name {
            changes.push(format!("group: {} → {}", or_none(&before.group_name), or_none(&after.group_name)));
        }
        if before.position != after.position {
            changes.push(format!("position: {} → {}", before.position, after.position));
        }
        if !changes.is_empty() {
            audit(conn, actor, "component.edit", &after.name, &changes.join("; ")).await?;
            // The public page shows names, groups and order.
            component_status::notify_status_changed(conn).await?;
        }
        Ok(after)
    })
    .await
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

/// Sets a component's status by hand, with an optional note for the audit
/// log. Returns the component and its old status (`None`: it already had it).
pub async fn change_status(
    pool: &DbPool,
    actor: &Actor,
    id: ComponentId,
    status: &str,
    note: &str,
) -> Result<(Component, Option<ComponentStatus>), ServiceError> {
    require_admin(actor)?;
    let mut errors = FieldErrors::new();
    let status = errors.check("status", ComponentStatus::parse(status));
    let note = errors.check("note", one_line(note, "note", 280));
    let (Some(status), Some(note)) = (status, note) else {
        return Err(ServiceError::Invalid(errors));
    };
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let old = component_status::set(conn, id, status, Cause { by: actor.id, ..Default::default() }, now).await?;
        let component = components::find(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if let Some(old) = old {
            let mut detail = format!("{} → {}", old.label(), status.label());
            if !note.is_empty() {
                detail.push_str(": ");
                detail.push_str(&note);
            }
            audit(conn, actor, "component.status", &component.name, &detail).await?;
        }
        Ok((component, old))
    })
    .await
}
