//! The `runbooks` tables: pre-approved work instructions, with the
//! components and alert names they apply to.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::RunbookId;
use super::schema::{alerts, components, runbook_components, runbooks};
use super::{ComponentId, IncidentId, TaskId, UserId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = runbooks)]
pub struct Runbook {
    pub id: RunbookId,
    pub title: String,
    /// Markdown; render through `domain::markdown::to_safe_html`.
    pub steps: String,
    pub alert_names: Vec<String>,
    pub source_task_id: Option<TaskId>,
    pub created_by: Option<UserId>,
    pub updated_by: Option<UserId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = runbooks)]
pub struct NewRunbook<'a> {
    pub title: &'a str,
    pub steps: &'a str,
    pub alert_names: &'a [String],
    pub source_task_id: Option<TaskId>,
    pub created_by: Option<UserId>,
    pub updated_by: Option<UserId>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewRunbook<'_>) -> QueryResult<Runbook> {
    diesel::insert_into(runbooks::table).values(new).returning(Runbook::as_returning()).get_result(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: RunbookId) -> QueryResult<Option<Runbook>> {
    runbooks::table.find(id).select(Runbook::as_select()).first(conn).await.optional()
}

/// Every runbook, by title.
pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Runbook>> {
    runbooks::table.order((runbooks::title.asc(), runbooks::id.asc())).select(Runbook::as_select()).load(conn).await
}

/// Saves an edit made on top of `version`; `None` when someone else saved
/// first (the version moved on) or the runbook is gone.
pub async fn update_if_version(
    conn: &mut AsyncPgConnection,
    id: RunbookId,
    version: i32,
    title: &str,
    steps: &str,
    alert_names: &[String],
    by: Option<UserId>,
) -> QueryResult<Option<Runbook>> {
    diesel::update(runbooks::table.filter(runbooks::id.eq(id)).filter(runbooks::version.eq(version)))
        .set((
            runbooks::title.eq(title),
            runbooks::steps.eq(steps),
            runbooks::alert_names.eq(alert_names),
            runbooks::updated_by.eq(by),
            runbooks::version.eq(runbooks::version + 1),
            runbooks::updated_at.eq(Utc::now()),
        ))
        .returning(Runbook::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn delete(conn: &mut AsyncPgConnection, id: RunbookId) -> QueryResult<Option<Runbook>> {
    diesel::delete(runbooks::table.find(id)).returning(Runbook::as_returning()).get_result(conn).await.optional()
}

pub async fn set_components(
    conn: &mut AsyncPgConnection,
    id: RunbookId,
    components: &[ComponentId],
) -> QueryResult<()> {
    diesel::delete(runbook_components::table.filter(runbook_components::runbook_id.eq(id))).execute(conn).await?;
    let rows: Vec<_> = components
        .iter()
        .map(|c| (runbook_components::runbook_id.eq(id), runbook_components::component_id.eq(*c)))
        .collect();
    diesel::insert_into(runbook_components::table).values(rows).execute(conn).await?;
    Ok(())
}

/// The components of these runbooks: (runbook, component id, component name).
pub async fn components_of(
    conn: &mut AsyncPgConnection,
    ids: &[RunbookId],
) -> QueryResult<Vec<(RunbookId, ComponentId, String)>> {
    runbook_components::table
        .inner_join(components::table)
        .filter(runbook_components::runbook_id.eq_any(ids))
        .order((components::group_name.asc(), components::position.asc(), components::name.asc()))
        .select((runbook_components::runbook_id, components::id, components::name))
        .load(conn)
        .await
}

/// The distinct names of the alerts attached to an incident.
pub async fn alert_names_of_incident(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<String>> {
    alerts::table
        .filter(alerts::incident_id.eq(id))
        .filter(alerts::name.ne(""))
        .select(alerts::name)
        .distinct()
        .load(conn)
        .await
}

/// Runbooks for any of these components or any of these alert names, by title.
pub async fn matching(
    conn: &mut AsyncPgConnection,
    components: &[ComponentId],
    alert_names: &[String],
) -> QueryResult<Vec<Runbook>> {
    if components.is_empty() && alert_names.is_empty() {
        return Ok(Vec::new());
    }
    runbooks::table
        .filter(
            runbooks::alert_names.overlaps_with(alert_names.to_vec()).or(diesel::dsl::exists(
                runbook_components::table
                    .filter(runbook_components::runbook_id.eq(runbooks::id))
                    .filter(runbook_components::component_id.eq_any(components.to_vec())),
            )),
        )
        .order((runbooks::title.asc(), runbooks::id.asc()))
        .select(Runbook::as_select())
        .load(conn)
        .await
}
