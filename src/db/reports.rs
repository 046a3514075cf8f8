//! What `/reports` reads: the incidents declared in a span of time, with
//! their moments and their open follow-ups, one query.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::UserId;
use crate::domain::incident::{DetectionSource, IncidentStatus, Severity};
use crate::domain::metrics::Timestamps;
use crate::domain::reports::IncidentFacts;

/// An incident's moments from a row that selected them by these names.
macro_rules! moments {
    ($row:expr) => {
        Timestamps {
            impact_started_at: $row.impact_started_at,
            detected_at: $row.detected_at,
            declared_at: $row.declared_at,
            acknowledged_at: $row.acknowledged_at,
            mitigated_at: $row.mitigated_at,
            resolved_at: $row.resolved_at,
            is_resolved: !IncidentStatus::parse(&$row.status).unwrap_or(IncidentStatus::Investigating).is_active(),
        }
    };
}

#[derive(Debug, Clone, QueryableByName)]
pub struct ReportRow {
    #[diesel(sql_type = SmallInt)]
    pub severity: i16,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub detection_source: String,
    #[diesel(sql_type = Timestamptz)]
    pub impact_started_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub detected_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub declared_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub mitigated_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    pub open_followups: i64,
    #[diesel(sql_type = BigInt)]
    pub overdue_followups: i64,
}

impl ReportRow {
    /// The moment it was declared, and what the report needs of it.
    pub fn facts(&self) -> (DateTime<Utc>, IncidentFacts) {
        let timestamps = moments!(self);
        let facts = IncidentFacts {
            severity: Severity::new(self.severity).unwrap_or(Severity::ALL[3]),
            detection_source: DetectionSource::parse(&self.detection_source).unwrap_or(DetectionSource::Other),
            timestamps,
            open_followups: self.open_followups.max(0) as u64,
            overdue_followups: self.overdue_followups.max(0) as u64,
        };
        (self.declared_at, facts)
    }
}

/// Who is asking: restricted incidents count only for their participants
/// (declared it or ever held a role in it) and for admins, as in the incident list.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub id: UserId,
    pub is_admin: bool,
}

/// Incidents declared in `[from, until)` that the viewer may see, of one
/// severity or all (false alarms and duplicates left out: they are not
/// incidents, and a duplicate would count its incident twice), with the number of their follow-up tasks still open or in
/// progress and, of those, the ones due before `now`.
///
/// Open follow-ups are counted once, grouped, then hash-joined: a per-incident
/// (LATERAL) count was planned as a nested loop over the partial index of open
/// tasks and took 0.4 s for 5,000 fresh incidents instead of 10 ms.
pub async fn incidents_declared(
    conn: &mut AsyncPgConnection,
    viewer: Viewer,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    severity: Option<Severity>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Vec<ReportRow>> {
    diesel::sql_query(
        "SELECT i.severity, i.status, i.detection_source, i.impact_started_at, i.detected_at, i.declared_at, \
                i.acknowledged_at, i.mitigated_at, i.resolved_at, \
                COALESCE(f.open, 0) AS open_followups, COALESCE(f.overdue, 0) AS overdue_followups \
         FROM incidents i \
         LEFT JOIN ( \
             SELECT t.incident_id, count(*) AS open, count(*) FILTER (WHERE t.due_at < $6) AS overdue \
             FROM tasks t \
             WHERE t.kind = 'follow_up' AND t.status IN ('open', 'in_progress') \
             GROUP BY t.incident_id \
         ) f ON f.incident_id = i.id \
         WHERE i.declared_at >= $1 AND i.declared_at < $2 \
           AND NOT i.false_alarm AND i.duplicate_of IS NULL \
           AND ($3::smallint IS NULL OR i.severity = $3) \
           AND ($4 OR i.visibility <> 'restricted' OR i.declared_by = $5 \
                OR EXISTS (SELECT 1 FROM incident_roles r WHERE r.incident_id = i.id AND r.user_id = $5)) \
         ORDER BY i.declared_at, i.id",
    )
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(until)
    .bind::<Nullable<SmallInt>, _>(severity.map(Severity::level))
    .bind::<Bool, _>(viewer.is_admin)
    .bind::<BigInt, _>(viewer.id)
    .bind::<Timestamptz, _>(now)
    .load(conn)
    .await
}

/// One incident touching one component, for the report per component.
#[derive(Debug, Clone, QueryableByName)]
pub struct ComponentIncidentRow {
    #[diesel(sql_type = BigInt)]
    pub component_id: i64,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Timestamptz)]
    pub impact_started_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub detected_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub declared_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub mitigated_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub resolved_at: Option<DateTime<Utc>>,
}

impl ComponentIncidentRow {
    /// (component, declared at, moments), as `domain::component_report` takes them.
    pub fn facts(&self) -> (i64, DateTime<Utc>, Timestamps) {
        let timestamps = moments!(self);
        (self.component_id, self.declared_at, timestamps)
    }
}

/// Incidents declared in `[from, until)` that the viewer may see, once per
/// component they touched (false alarms and duplicates left out, as in
/// `incidents_declared`).
pub async fn component_incidents(
    conn: &mut AsyncPgConnection,
    viewer: Viewer,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> diesel::QueryResult<Vec<ComponentIncidentRow>> {
    diesel::sql_query(
        "SELECT ic.component_id, i.status, i.impact_started_at, i.detected_at, i.declared_at, \
                i.acknowledged_at, i.mitigated_at, i.resolved_at \
         FROM incidents i JOIN incident_components ic ON ic.incident_id = i.id \
         WHERE i.declared_at >= $1 AND i.declared_at < $2 \
           AND NOT i.false_alarm AND i.duplicate_of IS NULL \
           AND ($3 OR i.visibility <> 'restricted' OR i.declared_by = $4 \
                OR EXISTS (SELECT 1 FROM incident_roles r WHERE r.incident_id = i.id AND r.user_id = $4))",
    )
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(until)
    .bind::<Bool, _>(viewer.is_admin)
    .bind::<BigInt, _>(viewer.id)
    .load(conn)
    .await
}
