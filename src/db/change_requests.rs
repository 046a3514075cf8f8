//! The `change_requests` table: "nobody changes production without the lead's approval".

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::change_requests;
use super::{ChangeRequestId, IncidentId, UserId};
use crate::domain::incident::ChangeStatus;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = change_requests)]
pub struct ChangeRequest {
    pub id: ChangeRequestId,
    pub incident_id: IncidentId,
    pub requested_by: UserId,
    pub description: String,
    pub rollback_plan: String,
    pub status: String,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    pub applied_by: Option<UserId>,
    pub applied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl ChangeRequest {
    pub fn status(&self) -> ChangeStatus {
        ChangeStatus::parse(&self.status).unwrap_or(ChangeStatus::Pending)
    }
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    incident: IncidentId,
    requested_by: UserId,
    description: &str,
    rollback_plan: &str,
) -> QueryResult<ChangeRequest> {
    diesel::insert_into(change_requests::table)
        .values((
            change_requests::incident_id.eq(incident),
            change_requests::requested_by.eq(requested_by),
            change_requests::description.eq(description),
            change_requests::rollback_plan.eq(rollback_plan),
        ))
        .returning(ChangeRequest::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_in(
    conn: &mut AsyncPgConnection,
    incident: IncidentId,
    id: ChangeRequestId,
) -> QueryResult<Option<ChangeRequest>> {
    change_requests::table
        .filter(change_requests::incident_id.eq(incident))
        .filter(change_requests::id.eq(id))
        .select(ChangeRequest::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn decide(
    conn: &mut AsyncPgConnection,
    id: ChangeRequestId,
    status: ChangeStatus,
    by: UserId,
    at: DateTime<Utc>,
) -> QueryResult<ChangeRequest> {
    diesel::update(change_requests::table.find(id))
        .set((
            change_requests::status.eq(status.as_str()),
            change_requests::decided_by.eq(by),
            change_requests::decided_at.eq(at),
        ))
        .returning(ChangeRequest::as_returning())
        .get_result(conn)
        .await
}

pub async fn mark_applied(
    conn: &mut AsyncPgConnection,
    id: ChangeRequestId,
    by: UserId,
    at: DateTime<Utc>,
) -> QueryResult<ChangeRequest> {
    diesel::update(change_requests::table.find(id))
        .set((
            change_requests::status.eq(ChangeStatus::Applied.as_str()),
            change_requests::applied_by.eq(by),
            change_requests::applied_at.eq(at),
        ))
        .returning(ChangeRequest::as_returning())
        .get_result(conn)
        .await
}

pub async fn list_for(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<ChangeRequest>> {
    change_requests::table
        .filter(change_requests::incident_id.eq(id))
        .order(change_requests::id.asc())
        .select(ChangeRequest::as_select())
        .load(conn)
        .await
}
