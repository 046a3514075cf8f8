//! The `postmortems` table: one per incident, created with it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::PostmortemId;
use super::schema::{components, incident_components, incidents, postmortem_hidden_entries, postmortems, users};
use super::{ComponentId, EntryId, IncidentId, UserId};
use crate::domain::postmortem::{PostmortemStatus, Section};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = postmortems)]
pub struct Postmortem {
    pub id: PostmortemId,
    pub incident_id: IncidentId,
    pub status: String,
    pub owner_id: Option<UserId>,
    pub drafted_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub customer_impact: String,
    pub detection: String,
    pub root_cause: String,
    pub trigger: String,
    pub resolution: String,
    pub went_well: String,
    pub went_badly: String,
    pub got_lucky: String,
    pub lessons: String,
    pub published_facts: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<UserId>,
    pub version: i32,
    pub updated_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Publication put the summary on the public status page (the publisher chose so).
    pub summary_public: bool,
}

impl Postmortem {
    pub fn status(&self) -> PostmortemStatus {
        PostmortemStatus::parse(&self.status).unwrap_or(PostmortemStatus::Draft)
    }

    /// The saved text of one section.
    pub fn section(&self, s: Section) -> &str {
        match s {
            Section::Summary => &self.summary,
            Section::CustomerImpact => &self.customer_impact,
            Section::Detection => &self.detection,
            Section::RootCause => &self.root_cause,
            Section::Trigger => &self.trigger,
            Section::Resolution => &self.resolution,
            Section::WentWell => &self.went_well,
            Section::WentBadly => &self.went_badly,
            Section::GotLucky => &self.got_lucky,
            Section::Lessons => &self.lessons,
        }
    }
}

/// Every incident has a post-mortem from the moment it is declared.
pub async fn create(conn: &mut AsyncPgConnection, incident: IncidentId) -> QueryResult<()> {
    diesel::insert_into(postmortems::table)
        .values(postmortems::incident_id.eq(incident))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|_| ())
}

/// Records when the facts were first drafted (the first resolution).
pub async fn mark_drafted(conn: &mut AsyncPgConnection, incident: IncidentId, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(postmortems::table.filter(postmortems::incident_id.eq(incident)))
        .filter(postmortems::drafted_at.is_null())
        .set(postmortems::drafted_at.eq(at))
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn find(conn: &mut AsyncPgConnection, id: PostmortemId) -> QueryResult<Option<Postmortem>> {
    postmortems::table.find(id).select(Postmortem::as_select()).first(conn).await.optional()
}

/// The row, locked until the transaction ends.
pub async fn find_for_update(conn: &mut AsyncPgConnection, id: PostmortemId) -> QueryResult<Option<Postmortem>> {
    postmortems::table.find(id).select(Postmortem::as_select()).for_update().first(conn).await.optional()
}

pub async fn find_for_incident(conn: &mut AsyncPgConnection, incident: IncidentId) -> QueryResult<Option<Postmortem>> {
    postmortems::table
        .filter(postmortems::incident_id.eq(incident))
        .select(Postmortem::as_select())
        .first(conn)
        .await
        .optional()
}

/// The written sections and the owner, as one save.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = postmortems, treat_none_as_null = true)]
pub struct SectionChanges<'a> {
    pub owner_id: Option<UserId>,
    pub summary: &'a str,
    pub customer_impact: &'a str,
    pub detection: &'a str,
    pub root_cause: &'a str,
    pub trigger: &'a str,
    pub resolution: &'a str,
    pub went_well: &'a str,
    pub went_badly: &'a str,
    pub got_lucky: &'a str,
    pub lessons: &'a str,
}

/// Saves over `version` and bumps it; `None` when someone saved since (the
/// version moved on) and nothing was written.
pub async fn save(
    conn: &mut AsyncPgConnection,
    id: PostmortemId,
    version: i32,
    changes: &SectionChanges<'_>,
    by: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Option<Postmortem>> {
    diesel::update(postmortems::table.find(id).filter(postmortems::version.eq(version)))
        .set((
            changes,
            postmortems::version.eq(postmortems::version + 1),
            postmortems::updated_by.eq(by),
            postmortems::updated_at.eq(now),
        ))
        .returning(Postmortem::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: PostmortemId,
    status: PostmortemStatus,
    by: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Postmortem> {
    diesel::update(postmortems::table.find(id))
        .set((postmortems::status.eq(status.as_str()), postmortems::updated_by.eq(by), postmortems::updated_at.eq(now)))
        .returning(Postmortem::as_returning())
        .get_result(conn)
        .await
}

/// Publication: the status, and the facts frozen as they are now.
pub async fn publish(
    conn: &mut AsyncPgConnection,
    id: PostmortemId,
    facts_markdown: &str,
    summary_public: bool,
    by: UserId,
    now: DateTime<Utc>,
) -> QueryResult<Postmortem> {
    diesel::update(postmortems::table.find(id))
        .set((
            postmortems::status.eq(PostmortemStatus::Published.as_str()),
            postmortems::summary_public.eq(summary_public),
            postmortems::published_facts.eq(facts_markdown),
            postmortems::published_at.eq(now),
            postmortems::published_by.eq(by),
            postmortems::updated_by.eq(by),
            postmortems::updated_at.eq(now),
        ))
        .returning(Postmortem::as_returning())
        .get_result(conn)
        .await
}

/// Which date the library's range filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateField {
    #[default]
    Published,
    Declared,
}

/// The library's filters; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct LibraryFilter {
    /// Words to find (PostgreSQL `websearch_to_tsquery` syntax: words,
    /// "quoted phrases", -excluded).
    pub text: Option<String>,
    pub severity: Option<i16>,
    pub component: Option<ComponentId>,
    pub date_field: DateField,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One published post-mortem as the library lists it.
#[derive(Debug, Clone, Queryable)]
pub struct LibraryRow {
    pub id: PostmortemId,
    pub incident_id: IncidentId,
    pub title: String,
    pub severity: i16,
    pub declared_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub owner: Option<String>,
}

/// Published post-mortems the viewer may see (restricted incidents only for
/// their participants and admins), newest publication first, one page at a
/// time; and how many match in all.
pub async fn library(
    conn: &mut AsyncPgConnection,
    viewer: UserId,
    viewer_is_admin: bool,
    filter: &LibraryFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<LibraryRow>, i64)> {
    let build = || {
        let mut q = postmortems::table
            .inner_join(incidents::table)
            .left_join(users::table.on(users::id.nullable().eq(postmortems::owner_id)))
            .filter(postmortems::status.eq(PostmortemStatus::Published.as_str()))
            .into_boxed();
        if !viewer_is_admin {
            q = q.filter(super::incidents::visible_to(viewer));
        }
        if let Some(text) = &filter.text {
            // `search` is a generated tsvector over the written sections (not
            // in the Diesel schema); the title is matched alongside it.
            q = q.filter(
                diesel::dsl::sql::<Bool>("(postmortems.search @@ websearch_to_tsquery('english', ")
                    .bind::<Text, _>(text.clone())
                    .sql(") OR to_tsvector('english', incidents.title) @@ websearch_to_tsquery('english', ")
                    .bind::<Text, _>(text.clone())
                    .sql("))"),
            );
        }
        if let Some(sev) = filter.severity {
            q = q.filter(incidents::severity.eq(sev));
        }
        if let Some(component) = filter.component {
            q = q.filter(diesel::dsl::exists(
                incident_components::table
                    .filter(incident_components::incident_id.eq(incidents::id))
                    .filter(incident_components::component_id.eq(component)),
            ));
        }
        match filter.date_field {
            DateField::Published => {
                if let Some(from) = filter.from {
                    q = q.filter(postmortems::published_at.ge(from));
                }
                if let Some(until) = filter.until {
                    q = q.filter(postmortems::published_at.lt(until));
                }
            }
            DateField::Declared => {
                if let Some(from) = filter.from {
                    q = q.filter(incidents::declared_at.ge(from));
                }
                if let Some(until) = filter.until {
                    q = q.filter(incidents::declared_at.lt(until));
                }
            }
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    let rows = build()
        .order((postmortems::published_at.desc().nulls_last(), postmortems::id.desc()))
        .limit(limit)
        .offset(offset)
        .select((
            postmortems::id,
            postmortems::incident_id,
            incidents::title,
            incidents::severity,
            incidents::declared_at,
            postmortems::published_at,
            postmortems::summary,
            users::display_name.nullable(),
        ))
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// Post-mortems not yet published of resolved or closed incidents the viewer
/// may see, oldest resolution first (the ones waiting longest).
pub async fn in_progress(
    conn: &mut AsyncPgConnection,
    viewer: UserId,
    viewer_is_admin: bool,
    limit: i64,
) -> QueryResult<Vec<(PostmortemId, String, String, Option<String>)>> {
    let mut q = postmortems::table
        .inner_join(incidents::table)
        .left_join(users::table.on(users::id.nullable().eq(postmortems::owner_id)))
        .filter(postmortems::status.ne(PostmortemStatus::Published.as_str()))
        .filter(incidents::status.eq_any(["resolved", "closed"]))
        .into_boxed();
    if !viewer_is_admin {
        q = q.filter(super::incidents::visible_to(viewer));
    }
    q.order((incidents::resolved_at.asc().nulls_last(), postmortems::id.asc()))
        .limit(limit)
        .select((postmortems::id, incidents::title, postmortems::status, users::display_name.nullable()))
        .load(conn)
        .await
}

/// The component names of some incidents, for lists.
pub async fn component_names(
    conn: &mut AsyncPgConnection,
    ids: &[IncidentId],
) -> QueryResult<Vec<(IncidentId, String)>> {
    incident_components::table
        .inner_join(components::table)
        .filter(incident_components::incident_id.eq_any(ids))
        .order(components::name.asc())
        .select((incident_components::incident_id, components::name))
        .load(conn)
        .await
}

/// Published summaries of some incidents: (incident, summary, published at).
pub async fn published_summaries(
    conn: &mut AsyncPgConnection,
    ids: &[IncidentId],
) -> QueryResult<Vec<(IncidentId, String, Option<DateTime<Utc>>)>> {
    postmortems::table
        .filter(postmortems::incident_id.eq_any(ids))
        .filter(postmortems::status.eq(PostmortemStatus::Published.as_str()))
        .filter(postmortems::summary_public)
        .select((postmortems::incident_id, postmortems::summary, postmortems::published_at))
        .load(conn)
        .await
}

/// The timeline entries the incident's post-mortem leaves out of its published facts.
pub async fn hidden_entries(conn: &mut AsyncPgConnection, incident: IncidentId) -> QueryResult<Vec<EntryId>> {
    postmortem_hidden_entries::table
        .inner_join(postmortems::table)
        .filter(postmortems::incident_id.eq(incident))
        .select(postmortem_hidden_entries::entry_id)
        .load(conn)
        .await
}

/// Leaves an entry out of (or puts it back into) the published facts.
/// Returns whether anything changed.
pub async fn set_entry_hidden(
    conn: &mut AsyncPgConnection,
    id: PostmortemId,
    entry: EntryId,
    hidden: bool,
    by: UserId,
) -> QueryResult<bool> {
    let n = if hidden {
        diesel::insert_into(postmortem_hidden_entries::table)
            .values((
                postmortem_hidden_entries::postmortem_id.eq(id),
                postmortem_hidden_entries::entry_id.eq(entry),
                postmortem_hidden_entries::hidden_by.eq(by),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?
    } else {
        diesel::delete(
            postmortem_hidden_entries::table
                .filter(postmortem_hidden_entries::postmortem_id.eq(id))
                .filter(postmortem_hidden_entries::entry_id.eq(entry)),
        )
        .execute(conn)
        .await?
    };
    Ok(n > 0)
}
