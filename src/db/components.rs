//! The `components` table: the services incidents affect and the status page shows.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{components, incident_components};
use super::{ComponentId, IncidentId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = components)]
pub struct Component {
    pub id: ComponentId,
    pub name: String,
    pub description: String,
    pub group_name: String,
    pub position: i32,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The id shown on the status page and in its API.
    pub public_id: String,
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Component>> {
    components::table
        .order((components::group_name.asc(), components::position.asc(), components::name.asc()))
        .select(Component::as_select())
        .load(conn)
        .await
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    name: &str,
    description: &str,
    group_name: &str,
) -> QueryResult<Component> {
    diesel::insert_into(components::table)
        .values((
            components::name.eq(name),
            components::description.eq(description),
            components::group_name.eq(group_name),
        ))
        .returning(Component::as_returning())
        .get_result(conn)
        .await
}

pub async fn for_incident(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<Component>> {
    components::table
        .inner_join(incident_components::table)
        .filter(incident_components::incident_id.eq(id))
        .order(components::name.asc())
        .select(Component::as_select())
        .load(conn)
        .await
}

/// Of the given ids, those that exist.
pub async fn existing(conn: &mut AsyncPgConnection, ids: &[ComponentId]) -> QueryResult<Vec<ComponentId>> {
    components::table.filter(components::id.eq_any(ids)).select(components::id).load(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: ComponentId) -> QueryResult<Option<Component>> {
    components::table.find(id).select(Component::as_select()).first(conn).await.optional()
}

/// A component by name, ignoring case (the names' unique index ignores it too).
pub async fn find_by_name(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<Option<Component>> {
    components::table
        .filter(super::lower(components::name).eq(name.to_lowercase()))
        .select(Component::as_select())
        .first(conn)
        .await
        .optional()
}

/// The fields an admin edits.
#[derive(Debug, Clone, AsChangeset, Insertable)]
#[diesel(table_name = components)]
pub struct ComponentFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub group_name: &'a str,
    pub position: i32,
}

pub async fn insert_fields(conn: &mut AsyncPgConnection, fields: &ComponentFields<'_>) -> QueryResult<Component> {
    diesel::insert_into(components::table).values(fields).returning(Component::as_returning()).get_result(conn).await
}

pub async fn update_fields(
    conn: &mut AsyncPgConnection,
    id: ComponentId,
    fields: &ComponentFields<'_>,
    at: DateTime<Utc>,
) -> QueryResult<Option<Component>> {
    diesel::update(components::table.find(id))
        .set((fields, components::updated_at.eq(at)))
        .returning(Component::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// The position after the last component of a group (new components go last).
pub async fn next_position(conn: &mut AsyncPgConnection, group_name: &str) -> QueryResult<i32> {
    let max: Option<i32> = components::table
        .filter(components::group_name.eq(group_name))
        .select(diesel::dsl::max(components::position))
        .first(conn)
        .await?;
    Ok(max.map_or(0, |m| m.saturating_add(1)))
}

/// A component, locked until the transaction ends.
pub async fn find_for_update(conn: &mut AsyncPgConnection, id: ComponentId) -> QueryResult<Option<Component>> {
    components::table.find(id).select(Component::as_select()).for_update().first(conn).await.optional()
}
