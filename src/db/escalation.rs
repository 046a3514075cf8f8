//! Escalation policies: `escalation_policies`, their ordered steps and each
//! step's targets (a schedule's on-call person or a named user), plus which
//! policy an alert source and each severity page by default.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::AlertSourceId;
use super::schema::{alert_sources, escalation_policies, escalation_step_targets, escalation_steps, severity_policies};
use super::{PolicyId, ScheduleId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = escalation_policies)]
pub struct Policy {
    pub id: PolicyId,
    pub name: String,
    pub repeat_count: i32,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = escalation_steps)]
pub struct Step {
    pub id: i64,
    pub policy_id: PolicyId,
    pub position: i32,
    pub wait_minutes: i32,
}

/// Who a step notifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Schedule(ScheduleId),
    User(UserId),
}

/// A step with its targets.
#[derive(Debug, Clone)]
pub struct StepWithTargets {
    pub step: Step,
    pub targets: Vec<Target>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    name: &str,
    repeat_count: i32,
    created_by: Option<UserId>,
) -> QueryResult<Policy> {
    diesel::insert_into(escalation_policies::table)
        .values((
            escalation_policies::name.eq(name),
            escalation_policies::repeat_count.eq(repeat_count),
            escalation_policies::created_by.eq(created_by),
        ))
        .returning(Policy::as_returning())
        .get_result(conn)
        .await
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Policy>> {
    escalation_policies::table.order(escalation_policies::name.asc()).select(Policy::as_select()).load(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: PolicyId) -> QueryResult<Option<Policy>> {
    escalation_policies::table.find(id).select(Policy::as_select()).first(conn).await.optional()
}

pub async fn find_by_name(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<Option<Policy>> {
    escalation_policies::table
        .filter(super::lower(escalation_policies::name).eq(name.to_lowercase()))
        .select(Policy::as_select())
        .first(conn)
        .await
        .optional()
}

/// Appends a step with its targets.
pub async fn add_step(
    conn: &mut AsyncPgConnection,
    policy: PolicyId,
    wait_minutes: i32,
    targets: &[Target],
) -> QueryResult<Step> {
    let max: Option<i32> = escalation_steps::table
        .filter(escalation_steps::policy_id.eq(policy))
        .select(diesel::dsl::max(escalation_steps::position))
        .first(conn)
        .await?;
    let step: Step = diesel::insert_into(escalation_steps::table)
        .values((
            escalation_steps::policy_id.eq(policy),
            escalation_steps::position.eq(max.map_or(0, |m| m + 1)),
            escalation_steps::wait_minutes.eq(wait_minutes),
        ))
        .returning(Step::as_returning())
        .get_result(conn)
        .await?;
    let rows: Vec<_> = targets
        .iter()
        .map(|t| {
            let (schedule, user) = match *t {
                Target::Schedule(s) => (Some(s), None),
                Target::User(u) => (None, Some(u)),
            };
            (
                escalation_step_targets::step_id.eq(step.id),
                escalation_step_targets::schedule_id.eq(schedule),
                escalation_step_targets::user_id.eq(user),
            )
        })
        .collect();
    diesel::insert_into(escalation_step_targets::table).values(&rows).execute(conn).await?;
    Ok(step)
}

/// A policy's steps in order, with their targets.
pub async fn steps(conn: &mut AsyncPgConnection, policy: PolicyId) -> QueryResult<Vec<StepWithTargets>> {
    let steps: Vec<Step> = escalation_steps::table
        .filter(escalation_steps::policy_id.eq(policy))
        .order(escalation_steps::position.asc())
        .select(Step::as_select())
        .load(conn)
        .await?;
    let ids: Vec<i64> = steps.iter().map(|s| s.id).collect();
    let targets: Vec<(i64, Option<ScheduleId>, Option<UserId>)> = escalation_step_targets::table
        .filter(escalation_step_targets::step_id.eq_any(&ids))
        .order(escalation_step_targets::id.asc())
        .select((
            escalation_step_targets::step_id,
            escalation_step_targets::schedule_id,
            escalation_step_targets::user_id,
        ))
        .load(conn)
        .await?;
    Ok(steps
        .into_iter()
        .map(|step| {
            let targets = targets
                .iter()
                .filter(|(s, _, _)| *s == step.id)
                .filter_map(|(_, sch, u)| match (sch, u) {
                    (Some(s), _) => Some(Target::Schedule(*s)),
                    (None, Some(u)) => Some(Target::User(*u)),
                    _ => None,
                })
                .collect();
            StepWithTargets { step, targets }
        })
        .collect())
}

pub async fn delete_step(conn: &mut AsyncPgConnection, policy: PolicyId, step: i64) -> QueryResult<bool> {
    let n = diesel::delete(
        escalation_steps::table.filter(escalation_steps::id.eq(step)).filter(escalation_steps::policy_id.eq(policy)),
    )
    .execute(conn)
    .await?;
    Ok(n > 0)
}

/// The policy an alert source pages, if any.
pub async fn source_policy(conn: &mut AsyncPgConnection, source: AlertSourceId) -> QueryResult<Option<PolicyId>> {
    Ok(alert_sources::table
        .find(source)
        .select(alert_sources::escalation_policy_id)
        .first::<Option<PolicyId>>(conn)
        .await
        .optional()?
        .flatten())
}

pub async fn set_source_policy(
    conn: &mut AsyncPgConnection,
    source: AlertSourceId,
    policy: Option<PolicyId>,
) -> QueryResult<bool> {
    let n = diesel::update(alert_sources::table.find(source))
        .set(alert_sources::escalation_policy_id.eq(policy))
        .execute(conn)
        .await?;
    Ok(n > 0)
}

/// Every alert source's policy: (source id, source name, policy).
pub async fn source_policies(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(AlertSourceId, String, Option<PolicyId>)>> {
    alert_sources::table
        .order(alert_sources::name.asc())
        .select((alert_sources::id, alert_sources::name, alert_sources::escalation_policy_id))
        .load(conn)
        .await
}

/// The default policy of a severity level (1..4), if any.
pub async fn severity_policy(conn: &mut AsyncPgConnection, severity: i16) -> QueryResult<Option<PolicyId>> {
    severity_policies::table.find(severity).select(severity_policies::policy_id).first(conn).await.optional()
}

pub async fn severity_policy_list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(i16, PolicyId)>> {
    severity_policies::table
        .order(severity_policies::severity.asc())
        .select((severity_policies::severity, severity_policies::policy_id))
        .load(conn)
        .await
}

pub async fn set_severity_policy(
    conn: &mut AsyncPgConnection,
    severity: i16,
    policy: Option<PolicyId>,
) -> QueryResult<()> {
    match policy {
        Some(p) => {
            diesel::insert_into(severity_policies::table)
                .values((severity_policies::severity.eq(severity), severity_policies::policy_id.eq(p)))
                .on_conflict(severity_policies::severity)
                .do_update()
                .set(severity_policies::policy_id.eq(p))
                .execute(conn)
                .await?;
        }
        None => {
            diesel::delete(severity_policies::table.find(severity)).execute(conn).await?;
        }
    }
    Ok(())
}
