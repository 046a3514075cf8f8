//! The `audit_log` table: who did what, when and from where, for admin and
//! security-relevant actions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::UserId;
use super::schema::audit_log;

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub actor_id: Option<UserId>,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
    pub client_addr: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub client_addr: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, entry: &NewAuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table).values(entry).execute(conn).await.map(|_| ())
}

pub async fn recent(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table.order(audit_log::id.desc()).limit(limit).select(AuditEntry::as_select()).load(conn).await
}
