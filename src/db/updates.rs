//! The `incident_updates` table: every stakeholder update, exactly as sent.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{incident_updates, users};
use super::{IncidentId, UpdateId, UserId};
use crate::domain::status::Audience;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = incident_updates)]
pub struct Update {
    pub id: UpdateId,
    pub public_id: String,
    pub incident_id: IncidentId,
    pub status: String,
    pub audience: String,
    pub impact: String,
    pub actions: String,
    pub impact_started_at: DateTime<Utc>,
    pub next_update_at: Option<DateTime<Utc>>,
    pub subject: String,
    pub body: String,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl Update {
    pub fn audience(&self) -> Audience {
        Audience::parse(&self.audience).unwrap_or(Audience::Internal)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = incident_updates)]
pub struct NewUpdate<'a> {
    pub incident_id: IncidentId,
    pub status: &'a str,
    pub audience: &'a str,
    pub impact: &'a str,
    pub actions: &'a str,
    pub impact_started_at: DateTime<Utc>,
    pub next_update_at: Option<DateTime<Utc>>,
    pub subject: &'a str,
    pub body: &'a str,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    /// The sender's idempotency key: one update per key and incident.
    pub idempotency_key: Option<&'a str>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewUpdate<'_>) -> QueryResult<Update> {
    diesel::insert_into(incident_updates::table).values(new).returning(Update::as_returning()).get_result(conn).await
}

/// An incident's updates, newest first, with the sender's name.
pub async fn list_for(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<(Update, Option<String>)>> {
    incident_updates::table
        .left_join(users::table.on(users::id.nullable().eq(incident_updates::created_by)))
        .filter(incident_updates::incident_id.eq(id))
        .order((incident_updates::created_at.desc(), incident_updates::id.desc()))
        .select((Update::as_select(), users::display_name.nullable()))
        .load(conn)
        .await
}

/// The update an incident already has for this idempotency key.
pub async fn find_by_key(conn: &mut AsyncPgConnection, id: IncidentId, key: &str) -> QueryResult<Option<Update>> {
    incident_updates::table
        .filter(incident_updates::incident_id.eq(id))
        .filter(incident_updates::idempotency_key.eq(key))
        .select(Update::as_select())
        .first(conn)
        .await
        .optional()
}

/// The most recent update of an incident.
pub async fn latest_for(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Option<Update>> {
    incident_updates::table
        .filter(incident_updates::incident_id.eq(id))
        .order((incident_updates::created_at.desc(), incident_updates::id.desc()))
        .select(Update::as_select())
        .first(conn)
        .await
        .optional()
}
