//! Changing a component's status, always together with its log row (the
//! source of the uptime bars) and the notice that public pages changed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{component_status_changes, components};
use super::{ComponentId, IncidentId, MaintenanceId, UpdateId, UserId};
use crate::domain::status::ComponentStatus;
use crate::domain::uptime::Change;

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

/// Every component's logged changes from `since` on, as uptime needs them.
#[derive(Debug, Default)]
pub struct Histories {
    /// Changes from `since` on, oldest first, per component.
    pub changes: HashMap<ComponentId, Vec<Change>>,
    /// Each component's state at `since`, when an earlier change says so.
    pub state_before: HashMap<ComponentId, ComponentStatus>,
}

/// Loads the log from `since` on and, for each component, the last change
/// before it. (A stored status that no longer parses counts as operational.)
pub async fn histories(conn: &mut AsyncPgConnection, since: DateTime<Utc>) -> QueryResult<Histories> {
    let parse = |s: &str| ComponentStatus::parse(s).unwrap_or(ComponentStatus::Operational);
    let rows: Vec<(ComponentId, String, String, DateTime<Utc>)> = component_status_changes::table
        .filter(component_status_changes::changed_at.ge(since))
        .order((component_status_changes::changed_at.asc(), component_status_changes::id.asc()))
        .select((
            component_status_changes::component_id,
            component_status_changes::old_status,
            component_status_changes::new_status,
            component_status_changes::changed_at,
        ))
        .load(conn)
        .await?;
    let mut changes: HashMap<ComponentId, Vec<Change>> = HashMap::new();
    for (id, old, new, at) in rows {
        changes.entry(id).or_default().push(Change { at, old: parse(&old), new: parse(&new) });
    }
    let before: Vec<(ComponentId, String)> = component_status_changes::table
        .filter(component_status_changes::changed_at.lt(since))
        .distinct_on(component_status_changes::component_id)
        .order((
            component_status_changes::component_id,
            component_status_changes::changed_at.desc(),
            component_status_changes::id.desc(),
        ))
        .select((component_status_changes::component_id, component_status_changes::new_status))
        .load(conn)
        .await?;
    let state_before = before.into_iter().map(|(id, s)| (id, parse(&s))).collect();
    Ok(Histories { changes, state_before })
}
