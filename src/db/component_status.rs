//! Changing a component's status, always together with its log row (the
//! source of the uptime bars) and the notice that public pages changed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{component_status_changes, components};
use super::{ComponentId, IncidentId, MaintenanceId, UpdateId, UserId};
use crate::domain::status::ComponentStatus;

/// The channel the public status page listens on (any payload: "rebuild").
pub const STATUS_CHANNEL: &str = "firebreak_status";

/// Tells every instance's status page to rebuild (delivered at commit).
pub async fn notify_status_changed(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, '')").bind::<Text, _>(STATUS_CHANNEL).execute(conn).await?;
    Ok(())
}

/// Why a status changed: who, and in the course of what.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cause {
    pub by: Option<UserId>,
    pub incident: Option<IncidentId>,
    pub update: Option<UpdateId>,
    pub maintenance: Option<MaintenanceId>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = component_status_changes)]
pub struct StatusChange {
    pub id: i64,
    pub component_id: ComponentId,
    pub old_status: String,
    pub new_status: String,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<UserId>,
    pub incident_id: Option<IncidentId>,
    pub update_id: Option<UpdateId>,
    pub maintenance_id: Option<MaintenanceId>,
}

/// Sets a component's status (locking its row), logs the change and
/// notifies the status page. Returns the old status, or `None` when the
/// component was already in that state (nothing is written then) or is gone.
pub async fn set(
    conn: &mut AsyncPgConnection,
    id: ComponentId,
    new: ComponentStatus,
    cause: Cause,
    at: DateTime<Utc>,
) -> QueryResult<Option<ComponentStatus>> {
    let current: Option<String> =
        components::table.find(id).select(components::status).for_update().first(conn).await.optional()?;
    let Some(current) = current else { return Ok(None) };
    let old = ComponentStatus::parse(&current).unwrap_or(ComponentStatus::Operational);
    if old == new {
        return Ok(None);
    }
    diesel::update(components::table.find(id))
        .set((components::status.eq(new.as_str()), components::updated_at.eq(at)))
        .execute(conn)
        .await?;
    diesel::insert_into(component_status_changes::table)
        .values((
            component_status_changes::component_id.eq(id),
            component_status_changes::old_status.eq(old.as_str()),
            component_status_changes::new_status.eq(new.as_str()),
            component_status_changes::changed_at.eq(at),
            component_status_changes::changed_by.eq(cause.by),
            component_status_changes::incident_id.eq(cause.incident),
            component_status_changes::update_id.eq(cause.update),
            component_status_changes::maintenance_id.eq(cause.maintenance),
        ))
        .execute(conn)
        .await?;
    notify_status_changed(conn).await?;
    Ok(Some(old))
}

/// Every change since `since`, oldest first (for uptime bars).
pub async fn since(conn: &mut AsyncPgConnection, since: DateTime<Utc>) -> QueryResult<Vec<StatusChange>> {
    component_status_changes::table
        .filter(component_status_changes::changed_at.ge(since))
        .order((component_status_changes::changed_at.asc(), component_status_changes::id.asc()))
        .select(StatusChange::as_select())
        .load(conn)
        .await
}

/// The most recent changes of one component, newest first (admin history).
pub async fn recent_for(conn: &mut AsyncPgConnection, id: ComponentId, limit: i64) -> QueryResult<Vec<StatusChange>> {
    component_status_changes::table
        .filter(component_status_changes::component_id.eq(id))
        .order((component_status_changes::changed_at.desc(), component_status_changes::id.desc()))
        .limit(limit)
        .select(StatusChange::as_select())
        .load(conn)
        .await
}
