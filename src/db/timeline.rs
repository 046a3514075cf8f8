//! The `timeline_entries` table: the append-only record of an incident.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{timeline_entries, users};
use super::{EntryId, IncidentId, UserId};
use crate::domain::incident::EntryKind;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = timeline_entries)]
pub struct Entry {
    pub id: EntryId,
    pub incident_id: IncidentId,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub author_id: Option<UserId>,
    pub kind: String,
    pub body: String,
    pub body_html: String,
    pub highlighted: bool,
    pub corrects_id: Option<EntryId>,
}

impl Entry {
    pub fn kind(&self) -> EntryKind {
        EntryKind::parse(&self.kind).unwrap_or(EntryKind::System)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = timeline_entries)]
pub struct NewEntry<'a> {
    pub incident_id: IncidentId,
    pub occurred_at: DateTime<Utc>,
    pub author_id: Option<UserId>,
    pub kind: &'a str,
    pub body: &'a str,
    pub body_html: &'a str,
    pub corrects_id: Option<EntryId>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewEntry<'_>) -> QueryResult<Entry> {
    diesel::insert_into(timeline_entries::table).values(new).returning(Entry::as_returning()).get_result(conn).await
}

/// Every entry of an incident with its author's name, in time order.
pub async fn list_for(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<(Entry, Option<String>)>> {
    timeline_entries::table
        .left_join(users::table.on(users::id.nullable().eq(timeline_entries::author_id)))
        .filter(timeline_entries::incident_id.eq(id))
        .order((timeline_entries::occurred_at.asc(), timeline_entries::id.asc()))
        .select((Entry::as_select(), users::display_name.nullable()))
        .load(conn)
        .await
}

pub async fn find_in(conn: &mut AsyncPgConnection, incident: IncidentId, id: EntryId) -> QueryResult<Option<Entry>> {
    timeline_entries::table
        .filter(timeline_entries::incident_id.eq(incident))
        .filter(timeline_entries::id.eq(id))
        .select(Entry::as_select())
        .first(conn)
        .await
        .optional()
}

/// Marking a key moment is the one change an entry allows: its text never changes.
pub async fn set_highlighted(conn: &mut AsyncPgConnection, id: EntryId, highlighted: bool) -> QueryResult<()> {
    diesel::update(timeline_entries::table.find(id))
        .set(timeline_entries::highlighted.eq(highlighted))
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest `limit` entries of an incident (in time order) and how many it
/// has in all: the room shows the newest and links to the rest.
pub async fn list_recent(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    limit: i64,
) -> QueryResult<(Vec<(Entry, Option<String>)>, i64)> {
    let mut newest: Vec<(Entry, Option<String>)> = timeline_entries::table
        .left_join(users::table.on(users::id.nullable().eq(timeline_entries::author_id)))
        .filter(timeline_entries::incident_id.eq(id))
        .order((timeline_entries::occurred_at.desc(), timeline_entries::id.desc()))
        .limit(limit)
        .select((Entry::as_select(), users::display_name.nullable()))
        .load(conn)
        .await?;
    newest.reverse();
    let total = if (newest.len() as i64) < limit {
        newest.len() as i64
    } else {
        timeline_entries::table.filter(timeline_entries::incident_id.eq(id)).count().get_result(conn).await?
    };
    Ok((newest, total))
}

/// Entries written after the one with id `after` (ids only grow), in time
/// order, at most `limit`: what a live room has not seen yet.
pub async fn list_after(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    after: EntryId,
    limit: i64,
) -> QueryResult<Vec<(Entry, Option<String>)>> {
    timeline_entries::table
        .left_join(users::table.on(users::id.nullable().eq(timeline_entries::author_id)))
        .filter(timeline_entries::incident_id.eq(id))
        .filter(timeline_entries::id.gt(after))
        .order((timeline_entries::occurred_at.asc(), timeline_entries::id.asc()))
        .limit(limit)
        .select((Entry::as_select(), users::display_name.nullable()))
        .load(conn)
        .await
}

/// The ids of an incident's key moments (the one thing about an entry that changes).
pub async fn highlighted_ids(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<EntryId>> {
    timeline_entries::table
        .filter(timeline_entries::incident_id.eq(id))
        .filter(timeline_entries::highlighted)
        .order(timeline_entries::id.asc())
        .select(timeline_entries::id)
        .load(conn)
        .await
}

/// The newest entry that is not a note: every action other than a note writes
/// one, so a room whose panels were drawn after it is up to date.
pub async fn latest_action_id(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Option<EntryId>> {
    timeline_entries::table
        .filter(timeline_entries::incident_id.eq(id))
        .filter(timeline_entries::kind.ne(EntryKind::Note.as_str()))
        .select(diesel::dsl::max(timeline_entries::id))
        .get_result(conn)
        .await
}
