//! Admins manage internal stakeholder groups: a name, a description and the
//! people (name + email) who receive an incident's internal updates.

use diesel_async::AsyncConnection;

use super::components::{is_unique_violation, one_line, require_admin};
use super::{Actor, FieldErrors, ServiceError, audit};
use crate::db::stakeholders::{self, Group};
use crate::db::{DbPool, GroupId};
use crate::domain::stakeholders::{MemberLine, parse_members};

/// The raw values of the group form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct GroupInput {
    pub name: String,
    pub description: String,
    pub members: String,
}

struct Checked {
    name: String,
    description: String,
    members: Vec<MemberLine>,
}

fn check(input: &GroupInput) -> Result<Checked, ServiceError> {
    let mut errors = FieldErrors::new();
    let name = errors.check("name", one_line(&input.name, "name", 80)).unwrap_or_default();
    if name.is_empty() && errors.get("name").is_none() {
        errors.add("name", "Name the group, e.g. \"executives\" or \"customer success\".");
    }
    let description = errors.check("description", one_line(&input.description, "description", 500));
    let members = errors.check("members", parse_members(&input.members));
    match (description, members) {
        (Some(description), Some(members)) if errors.is_empty() => Ok(Checked { name, description, members }),
        _ => Err(ServiceError::Invalid(errors)),
    }
}

fn duplicate_name() -> ServiceError {
    ServiceError::Invalid(FieldErrors::single("name", "A group with this name exists already."))
}

fn member_pairs(members: &[MemberLine]) -> Vec<(&str, &str)> {
    members.iter().map(|m| (m.name.as_str(), m.email.as_str())).collect()
}

fn plural(n: usize) -> String {
    if n == 1 { "1 member".to_owned() } else { format!("{n} members") }
}

/// Creates a group with its members.
pub async fn create(pool: &DbPool, actor: &Actor, input: &GroupInput) -> Result<Group, ServiceError> {
    require_admin(actor)?;
    let c = check(input)?;
    let mut conn = pool.get().await?;
    if stakeholders::find_group_by_name(&mut conn, &c.name).await?.is_some() {
        return Err(duplicate_name());
    }
    conn.transaction(async |conn| {
        let group = match stakeholders::insert_group(conn, &c.name, &c.description).await {
            Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
            other => other?,
        };
        stakeholders::replace_members(conn, group.id, &member_pairs(&c.members)).await?;
        audit(conn, actor, "group.add", &group.name, &plural(c.members.len())).await?;
        Ok(group)
    })
    .await
}

/// Saves a group's name, description and members (the list replaces the old
/// one as a whole).
pub async fn update(pool: &DbPool, actor: &Actor, id: GroupId, input: &GroupInput) -> Result<Group, ServiceError> {
    require_admin(actor)?;
    let c = check(input)?;
    let mut conn = pool.get().await?;
    if stakeholders::find_group_by_name(&mut conn, &c.name).await?.is_some_and(|g| g.id != id) {
        return Err(duplicate_name());
    }
    conn.transaction(async |conn| {
        let before = stakeholders::find_group_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        let old: Vec<String> = stakeholders::members_of(conn, id).await?.into_iter().map(|m| m.email).collect();
        let group = match stakeholders::update_group(conn, id, &c.name, &c.description).await {
            Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
            other => other?.ok_or(ServiceError::NotFound)?,
        };
        stakeholders::replace_members(conn, id, &member_pairs(&c.members)).await?;
        let added = c.members.iter().filter(|m| !old.iter().any(|o| o.eq_ignore_ascii_case(m.email.as_str()))).count();
        let removed =
            old.iter().filter(|o| !c.members.iter().any(|m| m.email.as_str().eq_ignore_ascii_case(o))).count();
        let mut detail = Vec::new();
        if before.name != group.name {
            detail.push(format!("name: {} → {}", before.name, group.name));
        }
        if before.description != group.description {
            detail.push("description changed".to_owned());
        }
        detail.push(format!("{} now ({added} added, {removed} removed)", plural(c.members.len())));
        audit(conn, actor, "group.edit", &group.name, &detail.join("; ")).await?;
        Ok(group)
    })
    .await
}

/// Deletes a group, its members and its place in incidents' choices.
pub async fn delete(pool: &DbPool, actor: &Actor, id: GroupId) -> Result<Group, ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let group = stakeholders::find_group_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        let members = stakeholders::members_of(conn, id).await?.len();
        stakeholders::delete_group(conn, id).await?;
        audit(conn, actor, "group.delete", &group.name, &plural(members)).await?;
        Ok(group)
    })
    .await
}
