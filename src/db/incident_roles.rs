//! The `incident_roles` table: who holds which role in an incident, with history.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{incident_roles, users};
use super::{IncidentId, RoleAssignmentId, UserId};
use crate::domain::incident::IncidentRole;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = incident_roles)]
pub struct Assignment {
    pub id: RoleAssignmentId,
    pub incident_id: IncidentId,
    pub role: String,
    pub user_id: UserId,
    pub assigned_by: Option<UserId>,
    pub assumed_at: DateTime<Utc>,
    pub relieved_at: Option<DateTime<Utc>>,
}

impl Assignment {
    pub fn role(&self) -> IncidentRole {
        IncidentRole::parse(&self.role).unwrap_or(IncidentRole::Supporting)
    }
}

/// An assignment with the holder's name.
#[derive(Debug, Clone)]
pub struct Holder {
    pub assignment: Assignment,
    pub name: String,
}

/// Every assignment of an incident, current and past, oldest first.
pub async fn all_for(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<Holder>> {
    let rows: Vec<(Assignment, String)> = incident_roles::table
        .inner_join(users::table.on(users::id.eq(incident_roles::user_id)))
        .filter(incident_roles::incident_id.eq(id))
        .order((incident_roles::assumed_at.asc(), incident_roles::id.asc()))
        .select((Assignment::as_select(), users::display_name))
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|(assignment, name)| Holder { assignment, name }).collect())
}

/// Who holds a single-holder role right now.
pub async fn current_holder(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    role: IncidentRole,
) -> QueryResult<Option<Assignment>> {
    incident_roles::table
        .filter(incident_roles::incident_id.eq(id))
        .filter(incident_roles::role.eq(role.as_str()))
        .filter(incident_roles::relieved_at.is_null())
        .select(Assignment::as_select())
        .first(conn)
        .await
        .optional()
}

/// The current roles of one person in an incident.
pub async fn current_roles_of(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    user: UserId,
) -> QueryResult<Vec<Assignment>> {
    incident_roles::table
        .filter(incident_roles::incident_id.eq(id))
        .filter(incident_roles::user_id.eq(user))
        .filter(incident_roles::relieved_at.is_null())
        .select(Assignment::as_select())
        .load(conn)
        .await
}

pub async fn relieve(conn: &mut AsyncPgConnection, assignment: RoleAssignmentId, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(incident_roles::table.find(assignment))
        .set(incident_roles::relieved_at.eq(at))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn assign(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    role: IncidentRole,
    user: UserId,
    assigned_by: Option<UserId>,
    at: DateTime<Utc>,
) -> QueryResult<Assignment> {
    diesel::insert_into(incident_roles::table)
        .values((
            incident_roles::incident_id.eq(id),
            incident_roles::role.eq(role.as_str()),
            incident_roles::user_id.eq(user),
            incident_roles::assigned_by.eq(assigned_by),
            incident_roles::assumed_at.eq(at),
        ))
        .returning(Assignment::as_returning())
        .get_result(conn)
        .await
}

/// The current holder's name of one role for many incidents at once.
pub async fn current_names(
    conn: &mut AsyncPgConnection,
    ids: &[IncidentId],
    role: IncidentRole,
) -> QueryResult<Vec<(IncidentId, String)>> {
    incident_roles::table
        .inner_join(users::table.on(users::id.eq(incident_roles::user_id)))
        .filter(incident_roles::incident_id.eq_any(ids))
        .filter(incident_roles::role.eq(role.as_str()))
        .filter(incident_roles::relieved_at.is_null())
        .select((incident_roles::incident_id, users::display_name))
        .load(conn)
        .await
}
