//! Internal stakeholder groups (admin-managed lists of names and emails) and
//! which groups an incident's updates go to.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{incident_stakeholder_groups, stakeholder_groups, stakeholder_members};
use super::{GroupId, IncidentId};

/// The group every new incident is announced to, when it exists.
pub const INCIDENT_REPORTS: &str = "incident reports";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stakeholder_groups)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stakeholder_members)]
pub struct Member {
    pub id: i64,
    pub group_id: GroupId,
    pub name: String,
    pub email: String,
}

pub async fn list_groups(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Group>> {
    stakeholder_groups::table.order(stakeholder_groups::name.asc()).select(Group::as_select()).load(conn).await
}

pub async fn find_group(conn: &mut AsyncPgConnection, id: GroupId) -> QueryResult<Option<Group>> {
    stakeholder_groups::table.find(id).select(Group::as_select()).first(conn).await.optional()
}

/// A group by name, ignoring case.
pub async fn find_group_by_name(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<Option<Group>> {
    stakeholder_groups::table
        .filter(super::lower(stakeholder_groups::name).eq(name.to_lowercase()))
        .select(Group::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn members_of(conn: &mut AsyncPgConnection, group: GroupId) -> QueryResult<Vec<Member>> {
    stakeholder_members::table
        .filter(stakeholder_members::group_id.eq(group))
        .order((stakeholder_members::name.asc(), stakeholder_members::email.asc()))
        .select(Member::as_select())
        .load(conn)
        .await
}

/// Everyone in any of the groups, each address once (first name seen wins).
pub async fn recipients(conn: &mut AsyncPgConnection, groups: &[GroupId]) -> QueryResult<Vec<Member>> {
    let mut all: Vec<Member> = stakeholder_members::table
        .filter(stakeholder_members::group_id.eq_any(groups))
        .order(stakeholder_members::id.asc())
        .select(Member::as_select())
        .load(conn)
        .await?;
    let mut seen = std::collections::HashSet::new();
    all.retain(|m| seen.insert(m.email.to_lowercase()));
    Ok(all)
}

pub async fn groups_for_incident(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<GroupId>> {
    incident_stakeholder_groups::table
        .filter(incident_stakeholder_groups::incident_id.eq(id))
        .select(incident_stakeholder_groups::group_id)
        .load(conn)
        .await
}

/// Replaces the incident's chosen groups.
pub async fn set_groups_for_incident(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    groups: &[GroupId],
) -> QueryResult<()> {
    diesel::delete(incident_stakeholder_groups::table.filter(incident_stakeholder_groups::incident_id.eq(id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = groups
        .iter()
        .map(|g| (incident_stakeholder_groups::incident_id.eq(id), incident_stakeholder_groups::group_id.eq(*g)))
        .collect();
    diesel::insert_into(incident_stakeholder_groups::table).values(rows).on_conflict_do_nothing().execute(conn).await?;
    Ok(())
}

/// Every group with how many members it has, by name.
pub async fn groups_with_counts(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(Group, i64)>> {
    let groups = list_groups(conn).await?;
    let counts: Vec<(GroupId, i64)> = stakeholder_members::table
        .group_by(stakeholder_members::group_id)
        .select((stakeholder_members::group_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let counts: std::collections::HashMap<GroupId, i64> = counts.into_iter().collect();
    Ok(groups
        .into_iter()
        .map(|g| {
            let n = counts.get(&g.id).copied().unwrap_or(0);
            (g, n)
        })
        .collect())
}

pub async fn find_group_for_update(conn: &mut AsyncPgConnection, id: GroupId) -> QueryResult<Option<Group>> {
    stakeholder_groups::table.find(id).select(Group::as_select()).for_update().first(conn).await.optional()
}

pub async fn insert_group(conn: &mut AsyncPgConnection, name: &str, description: &str) -> QueryResult<Group> {
    diesel::insert_into(stakeholder_groups::table)
        .values((stakeholder_groups::name.eq(name), stakeholder_groups::description.eq(description)))
        .returning(Group::as_returning())
        .get_result(conn)
        .await
}

pub async fn update_group(
    conn: &mut AsyncPgConnection,
    id: GroupId,
    name: &str,
    description: &str,
) -> QueryResult<Option<Group>> {
    diesel::update(stakeholder_groups::table.find(id))
        .set((stakeholder_groups::name.eq(name), stakeholder_groups::description.eq(description)))
        .returning(Group::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Deletes a group with its members (and drops it from incidents' choices).
pub async fn delete_group(conn: &mut AsyncPgConnection, id: GroupId) -> QueryResult<bool> {
    Ok(diesel::delete(stakeholder_groups::table.find(id)).execute(conn).await? > 0)
}

/// Replaces a group's members with these (name, email) pairs.
pub async fn replace_members(conn: &mut AsyncPgConnection, id: GroupId, members: &[(&str, &str)]) -> QueryResult<()> {
    diesel::delete(stakeholder_members::table.filter(stakeholder_members::group_id.eq(id))).execute(conn).await?;
    // Inserted in chunks: PostgreSQL takes at most 65,535 bind parameters.
    for chunk in members.chunks(1000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(name, email)| {
                (
                    stakeholder_members::group_id.eq(id),
                    stakeholder_members::name.eq(*name),
                    stakeholder_members::email.eq(*email),
                )
            })
            .collect();
        diesel::insert_into(stakeholder_members::table).values(rows).execute(conn).await?;
    }
    Ok(())
}
