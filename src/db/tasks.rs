//! The `tasks` table: work assigned to named people, mitigation attempts with
//! their timebox, cleanup and follow-ups.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{incidents, tasks, users};
use super::{IncidentId, TaskId, UserId};
use crate::domain::incident::{TaskKind, TaskStatus};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tasks)]
pub struct Task {
    pub id: TaskId,
    pub incident_id: IncidentId,
    pub title: String,
    pub details: String,
    pub kind: String,
    pub status: String,
    pub assignee_id: Option<UserId>,
    pub timebox_minutes: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub ticket_url: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Task {
    pub fn kind(&self) -> TaskKind {
        TaskKind::parse(&self.kind).unwrap_or(TaskKind::Mitigation)
    }
    pub fn status(&self) -> TaskStatus {
        TaskStatus::parse(&self.status).unwrap_or(TaskStatus::Open)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tasks)]
pub struct NewTask<'a> {
    pub incident_id: IncidentId,
    pub title: &'a str,
    pub kind: &'a str,
    pub assignee_id: Option<UserId>,
    pub timebox_minutes: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub ticket_url: Option<&'a str>,
    pub created_by: UserId,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct TaskChanges<'a> {
    pub status: Option<&'a str>,
    pub assignee_id: Option<Option<UserId>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<Option<DateTime<Utc>>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewTask<'_>) -> QueryResult<Task> {
    diesel::insert_into(tasks::table).values(new).returning(Task::as_returning()).get_result(conn).await
}

pub async fn find_in(conn: &mut AsyncPgConnection, incident: IncidentId, id: TaskId) -> QueryResult<Option<Task>> {
    tasks::table
        .filter(tasks::incident_id.eq(incident))
        .filter(tasks::id.eq(id))
        .select(Task::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn update(conn: &mut AsyncPgConnection, id: TaskId, changes: &TaskChanges<'_>) -> QueryResult<Task> {
    diesel::update(tasks::table.find(id)).set(changes).returning(Task::as_returning()).get_result(conn).await
}

/// An incident's tasks with their assignee's name, oldest first.
pub async fn list_for(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<(Task, Option<String>)>> {
    tasks::table
        .left_join(users::table.on(users::id.nullable().eq(tasks::assignee_id)))
        .filter(tasks::incident_id.eq(id))
        .order(tasks::id.asc())
        .select((Task::as_select(), users::display_name.nullable()))
        .load(conn)
        .await
}

/// Unfinished tasks assigned to someone, across incidents, with the incident's title.
pub async fn open_for_assignee(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<Vec<(Task, String)>> {
    tasks::table
        .inner_join(incidents::table)
        .filter(tasks::assignee_id.eq(user))
        .filter(tasks::status.eq_any([TaskStatus::Open.as_str(), TaskStatus::InProgress.as_str()]))
        .order((tasks::due_at.asc().nulls_last(), tasks::id.asc()))
        .select((Task::as_select(), incidents::title))
        .load(conn)
        .await
}
