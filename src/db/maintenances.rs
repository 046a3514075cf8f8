//! The `maintenances` table (scheduled maintenance windows) and which
//! components each window covers.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{components, maintenance_components, maintenances};
use super::{ComponentId, MaintenanceId, UserId};
use crate::domain::status::MaintenanceStatus;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = maintenances)]
pub struct Maintenance {
    pub id: MaintenanceId,
    /// The id shown on the status page and in its API.
    pub public_id: String,
    pub title: String,
    pub message: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether subscribers of its components are emailed when it is
    /// scheduled, when it starts and when it ends.
    pub notify_scheduled: bool,
    pub notify_started: bool,
    pub notify_completed: bool,
}

impl Maintenance {
    pub fn status(&self) -> MaintenanceStatus {
        MaintenanceStatus::parse(&self.status).unwrap_or(MaintenanceStatus::Scheduled)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = maintenances)]
pub struct NewMaintenance<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: Option<UserId>,
    pub notify_scheduled: bool,
    pub notify_started: bool,
    pub notify_completed: bool,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewMaintenance<'_>) -> QueryResult<Maintenance> {
    diesel::insert_into(maintenances::table).values(new).returning(Maintenance::as_returning()).get_result(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: MaintenanceId) -> QueryResult<Option<Maintenance>> {
    maintenances::table.find(id).select(Maintenance::as_select()).first(conn).await.optional()
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, id: MaintenanceId) -> QueryResult<Option<Maintenance>> {
    maintenances::table.find(id).select(Maintenance::as_select()).for_update().first(conn).await.optional()
}

/// Which notices a window's subscribers get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notices {
    pub scheduled: bool,
    pub started: bool,
    pub completed: bool,
}

/// Changes a window's plan (title, message, times, notices).
#[expect(clippy::too_many_arguments, reason = "one column each")]
pub async fn update_plan(
    conn: &mut AsyncPgConnection,
    id: MaintenanceId,
    title: &str,
    message: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    notify: Notices,
    at: DateTime<Utc>,
) -> QueryResult<Maintenance> {
    diesel::update(maintenances::table.find(id))
        .set((
            maintenances::title.eq(title),
            maintenances::message.eq(message),
            maintenances::starts_at.eq(starts_at),
            maintenances::ends_at.eq(ends_at),
            maintenances::updated_at.eq(at),
            maintenances::notify_scheduled.eq(notify.scheduled),
            maintenances::notify_started.eq(notify.started),
            maintenances::notify_completed.eq(notify.completed),
        ))
        .returning(Maintenance::as_returning())
        .get_result(conn)
        .await
}

/// Moves a window to a new status, stamping `started_at` when it starts and
/// `completed_at` when it completes or is cancelled.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: MaintenanceId,
    status: MaintenanceStatus,
    at: DateTime<Utc>,
) -> QueryResult<Maintenance> {
    let target = maintenances::table.find(id);
    let common = (maintenances::status.eq(status.as_str()), maintenances::updated_at.eq(at));
    match status {
        MaintenanceStatus::InProgress => {
            diesel::update(target).set((common, maintenances::started_at.eq(at))).execute(conn).await?
        }
        MaintenanceStatus::Completed | MaintenanceStatus::Cancelled => {
            diesel::update(target).set((common, maintenances::completed_at.eq(at))).execute(conn).await?
        }
        MaintenanceStatus::Scheduled => diesel::update(target).set(common).execute(conn).await?,
    };
    target.select(Maintenance::as_select()).first(conn).await
}

/// Replaces the components a window covers.
pub async fn set_components(
    conn: &mut AsyncPgConnection,
    id: MaintenanceId,
    component_ids: &[ComponentId],
) -> QueryResult<()> {
    diesel::delete(maintenance_components::table.filter(maintenance_components::maintenance_id.eq(id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = component_ids
        .iter()
        .map(|c| (maintenance_components::maintenance_id.eq(id), maintenance_components::component_id.eq(*c)))
        .collect();
    diesel::insert_into(maintenance_components::table).values(rows).on_conflict_do_nothing().execute(conn).await?;
    Ok(())
}

pub async fn component_ids(conn: &mut AsyncPgConnection, id: MaintenanceId) -> QueryResult<Vec<ComponentId>> {
    maintenance_components::table
        .filter(maintenance_components::maintenance_id.eq(id))
        .order(maintenance_components::component_id.asc())
        .select(maintenance_components::component_id)
        .load(conn)
        .await
}

/// For each of these windows, the names of its components (by name).
pub async fn component_names(
    conn: &mut AsyncPgConnection,
    ids: &[MaintenanceId],
) -> QueryResult<Vec<(MaintenanceId, ComponentId, String)>> {
    maintenance_components::table
        .inner_join(components::table)
        .filter(maintenance_components::maintenance_id.eq_any(ids))
        .order((components::group_name.asc(), components::position.asc(), components::name.asc()))
        .select((maintenance_components::maintenance_id, components::id, components::name))
        .load(conn)
        .await
}

/// Windows scheduled or in progress, soonest first.
pub async fn current(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Maintenance>> {
    maintenances::table
        .filter(
            maintenances::status
                .eq_any([MaintenanceStatus::Scheduled.as_str(), MaintenanceStatus::InProgress.as_str()]),
        )
        .order((maintenances::starts_at.asc(), maintenances::id.asc()))
        .select(Maintenance::as_select())
        .load(conn)
        .await
}

/// Completed and cancelled windows, the latest first.
pub async fn past(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Maintenance>> {
    maintenances::table
        .filter(
            maintenances::status.eq_any([MaintenanceStatus::Completed.as_str(), MaintenanceStatus::Cancelled.as_str()]),
        )
        .order((maintenances::starts_at.desc(), maintenances::id.desc()))
        .limit(limit)
        .select(Maintenance::as_select())
        .load(conn)
        .await
}

/// Whether another window in progress covers this component (so finishing
/// one window does not end the maintenance another is still doing).
pub async fn other_in_progress_covers(
    conn: &mut AsyncPgConnection,
    component: ComponentId,
    except: MaintenanceId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        maintenance_components::table
            .inner_join(maintenances::table)
            .filter(maintenance_components::component_id.eq(component))
            .filter(maintenances::id.ne(except))
            .filter(maintenances::status.eq(MaintenanceStatus::InProgress.as_str())),
    ))
    .get_result(conn)
    .await
}

#[derive(QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
}

/// Claims one scheduled window whose start has come and marks it in
/// progress, in the caller's transaction. Rows another transaction is
/// already moving are skipped, so several instances never move one twice.
pub async fn claim_due_start(conn: &mut AsyncPgConnection) -> QueryResult<Option<(MaintenanceId, DateTime<Utc>)>> {
    let claimed: Option<Claimed> = diesel::sql_query(
        "UPDATE maintenances SET status = 'in_progress', started_at = now(), updated_at = now() \
         WHERE status = 'scheduled' AND id = (\
             SELECT id FROM maintenances WHERE status = 'scheduled' AND starts_at <= now() \
             ORDER BY starts_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, started_at AS at",
    )
    .get_result(conn)
    .await
    .optional()?;
    Ok(claimed.map(|c| (MaintenanceId(c.id), c.at)))
}

/// Claims one window in progress whose end has passed and marks it completed.
pub async fn claim_due_end(conn: &mut AsyncPgConnection) -> QueryResult<Option<(MaintenanceId, DateTime<Utc>)>> {
    let claimed: Option<Claimed> = diesel::sql_query(
        "UPDATE maintenances SET status = 'completed', completed_at = now(), updated_at = now() \
         WHERE status = 'in_progress' AND id = (\
             SELECT id FROM maintenances WHERE status = 'in_progress' AND ends_at <= now() \
             ORDER BY ends_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, completed_at AS at",
    )
    .get_result(conn)
    .await
    .optional()?;
    Ok(claimed.map(|c| (MaintenanceId(c.id), c.at)))
}
