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
