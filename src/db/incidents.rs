//! The `incidents` table and `incident_components`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{incident_components, incident_roles, incidents, related_incidents};

/// The title the public reads, in a query: `public_title`, or `title` when it is empty.
pub fn public_title_sql() -> diesel::expression::SqlLiteral<diesel::sql_types::Text> {
    diesel::dsl::sql("COALESCE(NULLIF(incidents.public_title, ''), incidents.title)")
}
use super::{ComponentId, IncidentId, UserId};
use crate::domain::incident::{DetectionSource, IncidentKind, IncidentStatus, Severity, Visibility};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = incidents)]
pub struct Incident {
    pub id: IncidentId,
    pub title: String,
    pub summary: String,
    pub kind: String,
    pub severity: i16,
    pub status: String,
    pub environment: String,
    pub detection_source: String,
    pub visibility: String,
    pub conference_url: Option<String>,
    pub impact_started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub declared_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub status_changed_at: DateTime<Utc>,
    pub declared_by: Option<UserId>,
    pub customer_impact: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    /// The id shown on the status page and in its API.
    pub public_id: String,
    /// The title shown to the public, when it differs (empty: `title`).
    pub public_title: String,
    /// Marked as a duplicate of this incident (where the work happens).
    pub duplicate_of: Option<IncidentId>,
    /// Marked as a false alarm: on record, left out of the reports.
    pub false_alarm: bool,
}

impl Incident {
    pub fn status(&self) -> IncidentStatus {
        IncidentStatus::parse(&self.status).unwrap_or(IncidentStatus::Investigating)
    }
    pub fn severity(&self) -> Severity {
        Severity::new(self.severity).unwrap_or(Severity::ALL[0])
    }
    pub fn kind(&self) -> IncidentKind {
        IncidentKind::parse(&self.kind).unwrap_or(IncidentKind::Outage)
    }
    pub fn visibility(&self) -> Visibility {
        Visibility::parse(&self.visibility).unwrap_or(Visibility::Restricted)
    }
    /// What the public reads: the status page, its feeds and API, subscriber emails.
    pub fn public_title(&self) -> &str {
        if self.public_title.trim().is_empty() { &self.title } else { &self.public_title }
    }
    pub fn detection_source(&self) -> DetectionSource {
        DetectionSource::parse(&self.detection_source).unwrap_or(DetectionSource::Other)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = incidents)]
pub struct NewIncident<'a> {
    pub title: &'a str,
    pub kind: &'a str,
    pub severity: i16,
    pub environment: &'a str,
    pub detection_source: &'a str,
    pub visibility: &'a str,
    pub conference_url: Option<&'a str>,
    pub impact_started_at: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub declared_at: DateTime<Utc>,
    pub status_changed_at: DateTime<Utc>,
    pub declared_by: Option<UserId>,
}

/// Fields that change; `None` leaves a column alone. `version` is always bumped.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = incidents)]
pub struct IncidentChanges<'a> {
    pub title: Option<&'a str>,
    pub public_title: Option<&'a str>,
    pub duplicate_of: Option<Option<IncidentId>>,
    pub false_alarm: Option<bool>,
    pub summary: Option<&'a str>,
    pub severity: Option<i16>,
    pub status: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub conference_url: Option<Option<&'a str>>,
    pub customer_impact: Option<&'a str>,
    pub impact_started_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub status_changed_at: Option<DateTime<Utc>>,
    pub visibility: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub detection_source: Option<&'a str>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewIncident<'_>) -> QueryResult<Incident> {
    diesel::insert_into(incidents::table).values(new).returning(Incident::as_returning()).get_result(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Option<Incident>> {
    incidents::table.find(id).select(Incident::as_select()).first(conn).await.optional()
}

/// The row, locked until the transaction ends: actions on one incident queue up.
pub async fn find_for_update(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Option<Incident>> {
    incidents::table.find(id).select(Incident::as_select()).for_update().first(conn).await.optional()
}

/// Applies changes and bumps the version.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    changes: &IncidentChanges<'_>,
) -> QueryResult<Incident> {
    diesel::update(incidents::table.find(id))
        .set((changes, incidents::version.eq(incidents::version + 1), incidents::updated_at.eq(Utc::now())))
        .returning(Incident::as_returning())
        .get_result(conn)
        .await
}

/// The restricted-incident rule as a filter: everything but restricted
/// incidents, plus restricted ones the viewer declared or held a role in.
/// (Admins see everything; callers skip the filter for them.)
#[diesel::dsl::auto_type]
pub fn visible_to(viewer: UserId) -> _ {
    let restricted: &'static str = Visibility::Restricted.as_str();
    incidents::visibility.ne(restricted).or(incidents::declared_by.eq(viewer)).or(diesel::dsl::exists(
        incident_roles::table
            .filter(incident_roles::incident_id.eq(incidents::id))
            .filter(incident_roles::user_id.eq(viewer)),
    ))
}

/// Of these incidents, the restricted ones this viewer may not see: places that
/// name an incident outside its room (a follow-up on the dashboard, an email)
/// show "a restricted incident" for these instead of the title.
pub async fn hidden_from(
    conn: &mut AsyncPgConnection,
    viewer: UserId,
    viewer_is_admin: bool,
    ids: &[IncidentId],
) -> QueryResult<std::collections::HashSet<IncidentId>> {
    if viewer_is_admin || ids.is_empty() {
        return Ok(Default::default());
    }
    let hidden: Vec<IncidentId> = incidents::table
        .filter(incidents::id.eq_any(ids))
        .filter(diesel::dsl::not(visible_to(viewer)))
        .select(incidents::id)
        .load(conn)
        .await?;
    Ok(hidden.into_iter().collect())
}

/// Whether this person took part: declared it or held any role in it, ever.
pub async fn is_participant(conn: &mut AsyncPgConnection, id: IncidentId, user: UserId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(incidents::table.filter(incidents::id.eq(id)).filter(
        incidents::declared_by.eq(user).or(diesel::dsl::exists(
            incident_roles::table.filter(incident_roles::incident_id.eq(id)).filter(incident_roles::user_id.eq(user)),
        )),
    )))
    .get_result(conn)
    .await
}

pub async fn set_components(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    components: &[ComponentId],
) -> QueryResult<()> {
    diesel::delete(incident_components::table.filter(incident_components::incident_id.eq(id))).execute(conn).await?;
    let rows: Vec<_> = components
        .iter()
        .map(|c| (incident_components::incident_id.eq(id), incident_components::component_id.eq(*c)))
        .collect();
    diesel::insert_into(incident_components::table).values(rows).execute(conn).await?;
    Ok(())
}

/// Filters for the incident list; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct IncidentFilter {
    pub statuses: Option<Vec<&'static str>>,
    pub severity: Option<i16>,
    pub kind: Option<&'static str>,
    pub component: Option<ComponentId>,
    pub declared_from: Option<DateTime<Utc>>,
    pub declared_until: Option<DateTime<Utc>>,
}

/// Incidents the viewer may see (restricted ones only for participants and
/// admins), newest first, one page at a time. Returns the page and the total.
pub async fn list(
    conn: &mut AsyncPgConnection,
    viewer: UserId,
    viewer_is_admin: bool,
    filter: &IncidentFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<Incident>, i64)> {
    let build = || {
        let mut q = incidents::table.into_boxed();
        if !viewer_is_admin {
            q = q.filter(visible_to(viewer));
        }
        if let Some(statuses) = &filter.statuses {
            q = q.filter(incidents::status.eq_any(statuses.clone()));
        }
        if let Some(sev) = filter.severity {
            q = q.filter(incidents::severity.eq(sev));
        }
        if let Some(kind) = filter.kind {
            q = q.filter(incidents::kind.eq(kind));
        }
        if let Some(component) = filter.component {
            q = q.filter(diesel::dsl::exists(
                incident_components::table
                    .filter(incident_components::incident_id.eq(incidents::id))
                    .filter(incident_components::component_id.eq(component)),
            ));
        }
        if let Some(from) = filter.declared_from {
            q = q.filter(incidents::declared_at.ge(from));
        }
        if let Some(until) = filter.declared_until {
            q = q.filter(incidents::declared_at.lt(until));
        }
        q
    };
    let total = build().count().get_result(conn).await?;
    let rows = build()
        .order((incidents::declared_at.desc(), incidents::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(Incident::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// An incident named from another one's room: its number, title and status.
#[derive(Debug, Clone, Queryable)]
pub struct IncidentRef {
    pub id: IncidentId,
    pub title: String,
    pub status: String,
}

impl IncidentRef {
    pub fn status(&self) -> IncidentStatus {
        IncidentStatus::parse(&self.status).unwrap_or(IncidentStatus::Investigating)
    }
}

/// The incidents marked as duplicates of this one, oldest first.
pub async fn duplicates_of(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<IncidentRef>> {
    incidents::table
        .filter(incidents::duplicate_of.eq(id))
        .order(incidents::id)
        .select((incidents::id, incidents::title, incidents::status))
        .load(conn)
        .await
}

/// The incidents linked as related to this one, oldest first.
pub async fn related(conn: &mut AsyncPgConnection, id: IncidentId) -> QueryResult<Vec<IncidentRef>> {
    let a: Vec<IncidentId> = related_incidents::table
        .filter(related_incidents::incident_id.eq(id))
        .select(related_incidents::related_id)
        .load(conn)
        .await?;
    let b: Vec<IncidentId> = related_incidents::table
        .filter(related_incidents::related_id.eq(id))
        .select(related_incidents::incident_id)
        .load(conn)
        .await?;
    refs(conn, &[a, b].concat()).await
}

/// Number, title and status of these incidents, oldest first.
pub async fn refs(conn: &mut AsyncPgConnection, ids: &[IncidentId]) -> QueryResult<Vec<IncidentRef>> {
    incidents::table
        .filter(incidents::id.eq_any(ids))
        .order(incidents::id)
        .select((incidents::id, incidents::title, incidents::status))
        .load(conn)
        .await
}

/// Links two incidents as related (either order); false when they already were.
pub async fn link_related(conn: &mut AsyncPgConnection, a: IncidentId, b: IncidentId, by: UserId) -> QueryResult<bool> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    let n = diesel::insert_into(related_incidents::table)
        .values((
            related_incidents::incident_id.eq(low),
            related_incidents::related_id.eq(high),
            related_incidents::linked_by.eq(by),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n > 0)
}

/// Removes the link between two incidents; false when there was none.
pub async fn unlink_related(conn: &mut AsyncPgConnection, a: IncidentId, b: IncidentId) -> QueryResult<bool> {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    let n = diesel::delete(
        related_incidents::table
            .filter(related_incidents::incident_id.eq(low))
            .filter(related_incidents::related_id.eq(high)),
    )
    .execute(conn)
    .await?;
    Ok(n > 0)
}
