//! The `tasks` table: work assigned to named people, mitigation attempts with
//! their timebox, cleanup and follow-ups.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{followup_digests, incidents, tasks, users};
use super::{IncidentId, TaskId, UserId};
use crate::domain::followups::Priority;
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
    /// high | medium | low (`domain::followups::Priority`); meaningful for follow-ups.
    pub priority: String,
}

impl Task {
    pub fn kind(&self) -> TaskKind {
        TaskKind::parse(&self.kind).unwrap_or(TaskKind::Mitigation)
    }
    pub fn status(&self) -> TaskStatus {
        TaskStatus::parse(&self.status).unwrap_or(TaskStatus::Open)
    }
    pub fn priority(&self) -> Priority {
        Priority::parse(&self.priority).unwrap_or(Priority::Medium)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tasks)]
pub struct NewTask<'a> {
    pub incident_id: IncidentId,
    pub title: &'a str,
    pub details: &'a str,
    pub kind: &'a str,
    pub priority: &'a str,
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
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub priority: Option<&'a str>,
    pub ticket_url: Option<Option<&'a str>>,
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

/// A task whatever its incident (callers check that the viewer may see the incident).
pub async fn find(conn: &mut AsyncPgConnection, id: TaskId) -> QueryResult<Option<Task>> {
    tasks::table.find(id).select(Task::as_select()).first(conn).await.optional()
}

/// The filters of `/tasks`; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct OpenTaskFilter {
    pub assignee: Option<UserId>,
    /// Only tasks due before this moment (overdue).
    pub due_before: Option<DateTime<Utc>>,
    pub incident: Option<IncidentId>,
    pub kind: Option<&'static str>,
}

const UNFINISHED: [&str; 2] = ["open", "in_progress"];

/// Unfinished tasks across the incidents the viewer may see (restricted ones
/// only for their participants and admins, as in `incidents::list`), soonest
/// due first, with the incident's title and the owner's name.
pub async fn open_across(
    conn: &mut AsyncPgConnection,
    viewer: UserId,
    viewer_is_admin: bool,
    filter: &OpenTaskFilter,
    limit: i64,
) -> QueryResult<Vec<(Task, String, Option<String>)>> {
    let mut q = tasks::table
        .inner_join(incidents::table)
        .left_join(users::table.on(users::id.nullable().eq(tasks::assignee_id)))
        .filter(tasks::status.eq_any(UNFINISHED))
        .into_boxed();
    if !viewer_is_admin {
        q = q.filter(super::incidents::visible_to(viewer));
    }
    if let Some(a) = filter.assignee {
        q = q.filter(tasks::assignee_id.eq(a));
    }
    if let Some(t) = filter.due_before {
        q = q.filter(tasks::due_at.lt(t));
    }
    if let Some(i) = filter.incident {
        q = q.filter(tasks::incident_id.eq(i));
    }
    if let Some(k) = filter.kind {
        q = q.filter(tasks::kind.eq(k));
    }
    q.order((tasks::due_at.asc().nulls_last(), tasks::id.asc()))
        .limit(limit)
        .select((Task::as_select(), incidents::title, users::display_name.nullable()))
        .load(conn)
        .await
}

/// The incidents the viewer may see that have unfinished tasks (the choices of
/// the incident filter), newest first.
pub async fn incidents_with_open_tasks(
    conn: &mut AsyncPgConnection,
    viewer: UserId,
    viewer_is_admin: bool,
) -> QueryResult<Vec<(IncidentId, String)>> {
    let mut q = incidents::table
        .filter(diesel::dsl::exists(
            tasks::table.filter(tasks::incident_id.eq(incidents::id)).filter(tasks::status.eq_any(UNFINISHED)),
        ))
        .into_boxed();
    if !viewer_is_admin {
        q = q.filter(super::incidents::visible_to(viewer));
    }
    q.order(incidents::id.desc()).select((incidents::id, incidents::title)).load(conn).await
}

/// Owners (enabled users) with unfinished follow-ups due before `now` who
/// have had no digest on `day` yet.
pub async fn owners_with_overdue_followups(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    day: NaiveDate,
) -> QueryResult<Vec<UserId>> {
    tasks::table
        .inner_join(users::table.on(users::id.nullable().eq(tasks::assignee_id)))
        .filter(tasks::kind.eq(TaskKind::FollowUp.as_str()))
        .filter(tasks::status.eq_any(UNFINISHED))
        .filter(tasks::due_at.lt(now))
        .filter(users::disabled.eq(false))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            followup_digests::table
                .filter(followup_digests::user_id.eq(users::id))
                .filter(followup_digests::digest_date.eq(day)),
        )))
        .select(users::id)
        .distinct()
        .load(conn)
        .await
}

/// One owner's unfinished follow-ups due before `now`, with the incident's title.
pub async fn overdue_followups_of(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Vec<(Task, String)>> {
    tasks::table
        .inner_join(incidents::table)
        .filter(tasks::assignee_id.eq(owner))
        .filter(tasks::kind.eq(TaskKind::FollowUp.as_str()))
        .filter(tasks::status.eq_any(UNFINISHED))
        .filter(tasks::due_at.lt(now))
        .order((tasks::due_at.asc(), tasks::id.asc()))
        .select((Task::as_select(), incidents::title))
        .load(conn)
        .await
}

/// Records that `user` gets their digest for `day`; false when it was
/// recorded already (by this or another instance). The row is the guard
/// against duplicates: write it in the transaction that queues the email.
pub async fn claim_digest(conn: &mut AsyncPgConnection, user: UserId, day: NaiveDate) -> QueryResult<bool> {
    let n = diesel::insert_into(followup_digests::table)
        .values((followup_digests::user_id.eq(user), followup_digests::digest_date.eq(day)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// A resolved or closed incident that is not fully closed yet.
#[derive(Debug, Clone, QueryableByName)]
pub struct AwaitingClosure {
    #[diesel(sql_type = BigInt)]
    pub id: IncidentId,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = SmallInt)]
    pub severity: i16,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// `postmortems.status`, empty when the incident has none.
    #[diesel(sql_type = Text)]
    pub postmortem_status: String,
    #[diesel(sql_type = BigInt)]
    pub open_followups: i64,
    /// How many incidents wait in all (the page may show fewer).
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

/// Resolved or closed incidents the viewer may see whose post-mortem is not
/// published or that have unfinished follow-ups (`domain::followups::closure`
/// is the rule; this query picks its candidates), longest waiting first.
pub async fn awaiting_closure(
    conn: &mut AsyncPgConnection,
    viewer: UserId,
    viewer_is_admin: bool,
    limit: i64,
) -> QueryResult<Vec<AwaitingClosure>> {
    diesel::sql_query(
        "SELECT i.id, i.title, i.status, i.severity, i.resolved_at, \
                COALESCE(p.status, '') AS postmortem_status, \
                (SELECT count(*) FROM tasks t WHERE t.incident_id = i.id AND t.kind = 'follow_up' \
                    AND t.status IN ('open', 'in_progress')) AS open_followups, \
                count(*) OVER () AS total \
         FROM incidents i LEFT JOIN postmortems p ON p.incident_id = i.id \
         WHERE i.status IN ('resolved', 'closed') \
           AND (p.status IS DISTINCT FROM 'published' OR EXISTS (SELECT 1 FROM tasks t WHERE t.incident_id = i.id \
                AND t.kind = 'follow_up' AND t.status IN ('open', 'in_progress'))) \
           AND ($1 OR i.visibility <> 'restricted' OR i.declared_by = $2 OR EXISTS (SELECT 1 FROM incident_roles r \
                WHERE r.incident_id = i.id AND r.user_id = $2)) \
         ORDER BY i.resolved_at ASC NULLS LAST, i.id ASC \
         LIMIT $3",
    )
    .bind::<Bool, _>(viewer_is_admin)
    .bind::<BigInt, _>(viewer)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}
