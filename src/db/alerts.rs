//! The `alerts` tables: alert sources, the raw payloads they sent (kept 30
//! days) and the alerts attached to incidents.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::IncidentId;
use super::ids::{AlertId, AlertPayloadId, AlertSourceId};
use super::schema::{alert_payloads, alert_sources, alerts, incidents};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alert_sources)]
pub struct AlertSource {
    pub id: AlertSourceId,
    /// In the hook URL.
    pub public_id: String,
    pub name: String,
    pub kind: String,
    pub token_hash: String,
    pub severity_label: String,
    pub severity_mapping: String,
    pub default_severity: i16,
    pub component_label: String,
    pub component_mapping: String,
    pub enabled: bool,
    pub created_by: Option<super::UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AlertSource {
    pub fn kind(&self) -> crate::domain::alerts::SourceKind {
        crate::domain::alerts::SourceKind::parse(&self.kind).unwrap_or(crate::domain::alerts::SourceKind::Generic)
    }
}

/// The fields an admin edits.
#[derive(Debug, Clone, AsChangeset, Insertable)]
#[diesel(table_name = alert_sources)]
pub struct SourceFields<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub severity_label: &'a str,
    pub severity_mapping: &'a str,
    pub default_severity: i16,
    pub component_label: &'a str,
    pub component_mapping: &'a str,
}

pub async fn list_sources(conn: &mut AsyncPgConnection) -> QueryResult<Vec<AlertSource>> {
    alert_sources::table.order(alert_sources::name.asc()).select(AlertSource::as_select()).load(conn).await
}

/// Each source with how many payloads it sent in the kept window and when the last one came.
pub async fn payload_stats(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(AlertSourceId, i64, Option<DateTime<Utc>>)>> {
    alert_payloads::table
        .group_by(alert_payloads::source_id)
        .select((alert_payloads::source_id, diesel::dsl::count_star(), diesel::dsl::max(alert_payloads::received_at)))
        .load(conn)
        .await
}

pub async fn find_source(conn: &mut AsyncPgConnection, id: AlertSourceId) -> QueryResult<Option<AlertSource>> {
    alert_sources::table.find(id).select(AlertSource::as_select()).first(conn).await.optional()
}

pub async fn find_source_for_update(
    conn: &mut AsyncPgConnection,
    id: AlertSourceId,
) -> QueryResult<Option<AlertSource>> {
    alert_sources::table.find(id).for_update().select(AlertSource::as_select()).first(conn).await.optional()
}

/// The source a hook URL names.
pub async fn find_by_public_id(conn: &mut AsyncPgConnection, public_id: &str) -> QueryResult<Option<AlertSource>> {
    alert_sources::table
        .filter(alert_sources::public_id.eq(public_id))
        .select(AlertSource::as_select())
        .first(conn)
        .await
        .optional()
}

/// A source by name, ignoring case (the unique index ignores it too).
pub async fn find_by_name(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<Option<AlertSource>> {
    alert_sources::table
        .filter(super::lower(alert_sources::name).eq(name.to_lowercase()))
        .select(AlertSource::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert_source(
    conn: &mut AsyncPgConnection,
    fields: &SourceFields<'_>,
    token_hash: &str,
    created_by: Option<super::UserId>,
) -> QueryResult<AlertSource> {
    diesel::insert_into(alert_sources::table)
        .values((fields.clone(), alert_sources::token_hash.eq(token_hash), alert_sources::created_by.eq(created_by)))
        .returning(AlertSource::as_returning())
        .get_result(conn)
        .await
}

pub async fn update_source(
    conn: &mut AsyncPgConnection,
    id: AlertSourceId,
    fields: &SourceFields<'_>,
) -> QueryResult<AlertSource> {
    diesel::update(alert_sources::table.find(id))
        .set((fields.clone(), alert_sources::updated_at.eq(diesel::dsl::now)))
        .returning(AlertSource::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_enabled(conn: &mut AsyncPgConnection, id: AlertSourceId, enabled: bool) -> QueryResult<()> {
    diesel::update(alert_sources::table.find(id))
        .set((alert_sources::enabled.eq(enabled), alert_sources::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_token_hash(conn: &mut AsyncPgConnection, id: AlertSourceId, token_hash: &str) -> QueryResult<()> {
    diesel::update(alert_sources::table.find(id))
        .set((alert_sources::token_hash.eq(token_hash), alert_sources::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a source with its payloads and alert rows (the incidents stay).
pub async fn delete_source(conn: &mut AsyncPgConnection, id: AlertSourceId) -> QueryResult<()> {
    diesel::delete(alert_sources::table.find(id)).execute(conn).await?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alert_payloads)]
pub struct Payload {
    pub id: AlertPayloadId,
    pub source_id: AlertSourceId,
    pub received_at: DateTime<Utc>,
    pub body: String,
    pub outcome: String,
}

pub async fn insert_payload(
    conn: &mut AsyncPgConnection,
    source: AlertSourceId,
    received_at: DateTime<Utc>,
    body: &str,
    outcome: &str,
) -> QueryResult<AlertPayloadId> {
    diesel::insert_into(alert_payloads::table)
        .values((
            alert_payloads::source_id.eq(source),
            alert_payloads::received_at.eq(received_at),
            alert_payloads::body.eq(body),
            alert_payloads::outcome.eq(outcome),
        ))
        .returning(alert_payloads::id)
        .get_result(conn)
        .await
}

/// A source's payloads received since `since`, newest first (by id, which
/// follows arrival), at most `limit`, older than the payload `before` when given (paging).
pub async fn payloads_for(
    conn: &mut AsyncPgConnection,
    source: AlertSourceId,
    since: DateTime<Utc>,
    before: Option<AlertPayloadId>,
    limit: i64,
) -> QueryResult<Vec<Payload>> {
    let mut q = alert_payloads::table
        .filter(alert_payloads::source_id.eq(source))
        .filter(alert_payloads::received_at.ge(since))
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(alert_payloads::id.lt(b));
    }
    q.order(alert_payloads::id.desc()).limit(limit).select(Payload::as_select()).load(conn).await
}

pub async fn count_payloads_since(
    conn: &mut AsyncPgConnection,
    source: AlertSourceId,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    alert_payloads::table
        .filter(alert_payloads::source_id.eq(source))
        .filter(alert_payloads::received_at.ge(since))
        .count()
        .get_result(conn)
        .await
}

/// Deletes payloads received before `cutoff`; returns how many.
pub async fn delete_payloads_before(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(alert_payloads::table.filter(alert_payloads::received_at.lt(cutoff))).execute(conn).await
}

/// Takes transaction-scoped advisory locks on the keys, in one order for
/// every caller (so two payloads never wait for each other in a circle).
pub async fn lock_keys(conn: &mut AsyncPgConnection, keys: &[String]) -> QueryResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(h) FROM \
         (SELECT DISTINCT hashtext(k) AS h FROM unnest($1) AS k ORDER BY h) AS keys",
    )
    .bind::<Array<Text>, _>(keys)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: AlertId,
    pub source_id: AlertSourceId,
    pub incident_id: IncidentId,
    pub fingerprint: String,
    pub group_key: Option<String>,
    pub name: String,
    pub summary: String,
    pub status: String,
    pub labels: serde_json::Value,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = alerts)]
pub struct NewAlert<'a> {
    pub source_id: AlertSourceId,
    pub incident_id: IncidentId,
    pub fingerprint: &'a str,
    pub group_key: Option<&'a str>,
    pub name: &'a str,
    pub summary: &'a str,
    pub status: &'a str,
    pub labels: serde_json::Value,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: Option<&'a str>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

pub async fn insert_alert(conn: &mut AsyncPgConnection, new: &NewAlert<'_>) -> QueryResult<AlertRow> {
    diesel::insert_into(alerts::table).values(new).returning(AlertRow::as_returning()).get_result(conn).await
}

/// What a later notification changes on an alert row.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = alerts)]
pub struct AlertChanges<'a> {
    pub status: Option<&'a str>,
    pub starts_at: Option<DateTime<Utc>>,
    /// `Some(None)` clears it (fired again).
    pub ends_at: Option<Option<DateTime<Utc>>>,
    pub summary: Option<&'a str>,
    pub generator_url: Option<Option<&'a str>>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

pub async fn update_alert(conn: &mut AsyncPgConnection, id: AlertId, changes: &AlertChanges<'_>) -> QueryResult<()> {
    diesel::update(alerts::table.find(id)).set(changes).execute(conn).await?;
    Ok(())
}

/// The statuses of incidents still being worked on.
const CLOSED: [&str; 2] = ["resolved", "closed"];

/// The alert with this fingerprint from this source on an open incident (the newest, should there be several).
pub async fn find_open_by_fingerprint(
    conn: &mut AsyncPgConnection,
    source: AlertSourceId,
    fingerprint: &str,
) -> QueryResult<Option<AlertRow>> {
    alerts::table
        .inner_join(incidents::table)
        .filter(alerts::source_id.eq(source))
        .filter(alerts::fingerprint.eq(fingerprint))
        .filter(incidents::status.ne_all(CLOSED))
        .order(alerts::incident_id.desc())
        .select(AlertRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The open incident that already carries an alert of this group (the newest).
pub async fn find_open_incident_by_group_key(
    conn: &mut AsyncPgConnection,
    source: AlertSourceId,
    group_key: &str,
) -> QueryResult<Option<IncidentId>> {
    alerts::table
        .inner_join(incidents::table)
        .filter(alerts::source_id.eq(source))
        .filter(alerts::group_key.eq(group_key))
        .filter(incidents::status.ne_all(CLOSED))
        .order(alerts::incident_id.desc())
        .select(alerts::incident_id)
        .first(conn)
        .await
        .optional()
}

/// The alerts attached to an incident, with their source's name, first seen first.
pub async fn for_incident(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<(AlertRow, String)>> {
    alerts::table
        .inner_join(alert_sources::table)
        .filter(alerts::incident_id.eq(id))
        .order((alerts::first_seen_at.asc(), alerts::id.asc()))
        .select((AlertRow::as_select(), alert_sources::name))
        .load(conn)
        .await
}

/// The labels of an incident's firing alerts (at most `limit`, oldest
/// first): what a page for it names besides the title.
pub async fn firing_labels(
    conn: &mut AsyncPgConnection,
    incident: IncidentId,
    limit: i64,
) -> QueryResult<Vec<serde_json::Value>> {
    alerts::table
        .filter(alerts::incident_id.eq(incident))
        .filter(alerts::status.eq("firing"))
        .order(alerts::id.asc())
        .limit(limit)
        .select(alerts::labels)
        .load(conn)
        .await
}
