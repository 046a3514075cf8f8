//! Reads everything public from the database, in one read-only snapshot
//! transaction. Only incidents with visibility `public` and at least one
//! published update (audience `public` or `both`) are ever read here: an
//! incident becomes public with its first public update, and internal or
//! restricted incidents never leave this module.

use std::collections::HashMap;

use chrono::{DateTime, Days, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{
    component_status_changes, components, incident_components, incident_updates, incidents, maintenance_components,
    maintenances,
};
use crate::db::{ComponentId, IncidentId, MaintenanceId, UpdateId};
use crate::domain::incident::{IncidentStatus, Severity, Visibility};
use crate::domain::status::{ComponentStatus, MaintenanceStatus};
use crate::domain::uptime::Change;

/// Days of uptime shown per component.
pub const UPTIME_DAYS: u32 = 90;
/// Days of past incidents on the front page.
pub const PAST_DAYS: u32 = 14;
/// Incidents, maintenances and feed entries the API and feeds list.
pub const RECENT_LIMIT: i64 = 50;
/// Incidents per page of `/status/history`.
pub const HISTORY_PAGE_SIZE: i64 = 20;

const PUBLIC_AUDIENCES: [&str; 2] = ["public", "both"];

#[derive(Debug, Clone)]
pub struct ComponentRow {
    pub id: ComponentId,
    pub public_id: String,
    pub name: String,
    pub description: String,
    pub group_name: String,
    pub position: i32,
    pub status: ComponentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct IncidentData {
    pub id: IncidentId,
    pub public_id: String,
    pub title: String,
    pub status: IncidentStatus,
    pub severity: Severity,
    pub declared_at: DateTime<Utc>,
    pub impact_started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Affected components.
    pub components: Vec<ComponentId>,
    /// Published updates, newest first (never empty).
    pub updates: Vec<UpdateData>,
    /// Its post-mortem's summary (Markdown) and publication time, once published.
    pub postmortem: Option<(String, DateTime<Utc>)>,
}

impl IncidentData {
    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    /// The last time anything public about it changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        <[UpdateData]>::first(&self.updates).map_or(self.declared_at, |u| u.created_at)
    }

    /// When it was first reported as monitoring, if ever.
    pub fn monitoring_at(&self) -> Option<DateTime<Utc>> {
        self.updates.iter().rev().find(|u| u.status == IncidentStatus::Monitoring).map(|u| u.created_at)
    }

    /// When it was resolved, while it is.
    pub fn public_resolved_at(&self) -> Option<DateTime<Utc>> {
        if self.is_active() {
            return None;
        }
        self.resolved_at
            .or_else(|| self.updates.iter().find(|u| u.status == IncidentStatus::Resolved).map(|u| u.created_at))
    }
}

#[derive(Debug, Clone)]
pub struct UpdateData {
    pub id: UpdateId,
    pub public_id: String,
    pub status: IncidentStatus,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Component changes made with this update.
    pub affected: Vec<Affected>,
}

#[derive(Debug, Clone)]
pub struct Affected {
    pub component: ComponentId,
    pub old: ComponentStatus,
    pub new: ComponentStatus,
}

#[derive(Debug, Clone)]
pub struct MaintenanceData {
    pub id: MaintenanceId,
    pub public_id: String,
    pub title: String,
    pub message: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: MaintenanceStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub components: Vec<ComponentId>,
}

/// Where a maintenance stands at `now`, as the public sees it: the window's
/// times win over a status the background job has not moved on yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Upcoming,
    InProgress,
    Completed,
}

impl MaintenanceData {
    pub fn phase(&self, now: DateTime<Utc>) -> Option<Phase> {
        match self.status {
            MaintenanceStatus::Cancelled => None,
            MaintenanceStatus::Completed => Some(Phase::Completed),
            MaintenanceStatus::InProgress => Some(Phase::InProgress),
            MaintenanceStatus::Scheduled if now >= self.ends_at => Some(Phase::Completed),
            MaintenanceStatus::Scheduled if now >= self.starts_at => Some(Phase::InProgress),
            MaintenanceStatus::Scheduled => Some(Phase::Upcoming),
        }
    }
}

/// One published public update, for the feeds.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub public_id: String,
    pub incident_public_id: String,
    pub incident_title: String,
    pub status: IncidentStatus,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Everything the public surfaces show, as of `loaded_at`.
#[derive(Debug, Clone)]
pub struct Data {
    pub loaded_at: DateTime<Utc>,
    /// Ordered by group, position, name.
    pub components: Vec<ComponentRow>,
    /// Logged changes inside the uptime window, oldest first, per component.
    pub changes: HashMap<ComponentId, Vec<Change>>,
    /// Each component's state at the start of the window, when a change
    /// before the window says so.
    pub state_before: HashMap<ComponentId, ComponentStatus>,
    /// Active ones, those declared in the last `PAST_DAYS` days and the
    /// `RECENT_LIMIT` latest; newest first.
    pub incidents: Vec<IncidentData>,
    /// Not cancelled: open ones and the `RECENT_LIMIT` latest; latest window first.
    pub maintenances: Vec<MaintenanceData>,
    /// The `RECENT_LIMIT` latest public updates, newest first.
    pub feed: Vec<FeedEntry>,
}

impl Data {
    pub fn component(&self, id: ComponentId) -> Option<&ComponentRow> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The last time anything shown changed (Statuspage's `page.updated_at`).
    pub fn updated_at(&self) -> DateTime<Utc> {
        let components = self.components.iter().map(|c| c.updated_at);
        let incidents = self.incidents.iter().map(IncidentData::updated_at);
        let maintenances = self.maintenances.iter().map(|m| m.updated_at);
        components.chain(incidents).chain(maintenances).max().unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// The day the uptime window starts (midnight UTC).
    pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
        let first =
            now.date_naive().checked_sub_days(Days::new(u64::from(UPTIME_DAYS - 1))).unwrap_or(now.date_naive());
        first.and_time(chrono::NaiveTime::MIN).and_utc()
    }
}

type IncidentTuple = (IncidentId, String, String, String, i16, DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>);

macro_rules! incident_columns {
    () => {
        (
            incidents::id,
            incidents::public_id,
            crate::db::incidents::public_title_sql(),
            incidents::status,
            incidents::severity,
            incidents::declared_at,
            incidents::impact_started_at,
            incidents::resolved_at,
        )
    };
}

/// Public incidents only: visibility public and at least one published update.
macro_rules! public_incidents {
    () => {
        incidents::table.filter(incidents::visibility.eq(Visibility::Public.as_str())).filter(diesel::dsl::exists(
            incident_updates::table
                .filter(incident_updates::incident_id.eq(incidents::id))
                .filter(incident_updates::audience.eq_any(PUBLIC_AUDIENCES)),
        ))
    };
}

/// Loads everything, consistently (one repeatable-read, read-only transaction).
pub async fn load(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<Data> {
    conn.build_transaction().read_only().repeatable_read().run(async |conn| load_in(conn, now).await).await
}

async fn load_in(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<Data> {
    let components = load_components(conn).await?;

    let window_start = Data::window_start(now);
    let crate::db::component_status::Histories { changes, state_before } =
        crate::db::component_status::histories(conn, window_start).await?;

    let recent_cutoff = now - chrono::Duration::days(i64::from(PAST_DAYS));
    let mut rows: Vec<IncidentTuple> = public_incidents!()
        .filter(
            incidents::status
                .eq_any(["investigating", "identified", "monitoring"])
                .or(incidents::declared_at.ge(recent_cutoff))
                .or(incidents::resolved_at.ge(recent_cutoff)),
        )
        .select(incident_columns!())
        .load(conn)
        .await?;
    let latest: Vec<IncidentTuple> = public_incidents!()
        .order((incidents::declared_at.desc(), incidents::id.desc()))
        .limit(RECENT_LIMIT)
        .select(incident_columns!())
        .load(conn)
        .await?;
    rows.extend(latest);
    rows.sort_by_key(|r| std::cmp::Reverse((r.5, r.0)));
    rows.dedup_by_key(|r| r.0);
    let incidents = complete_incidents(conn, rows).await?;

    let maintenances = load_maintenances(conn, now).await?;
    let feed = load_feed(conn).await?;

    Ok(Data { loaded_at: now, components, changes, state_before, incidents, maintenances, feed })
}

pub async fn load_components(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ComponentRow>> {
    type Row = (ComponentId, String, String, String, String, i32, String, DateTime<Utc>, DateTime<Utc>);
    let rows: Vec<Row> = components::table
        .order((components::group_name.asc(), components::position.asc(), components::name.asc(), components::id.asc()))
        .select((
            components::id,
            components::public_id,
            components::name,
            components::description,
            components::group_name,
            components::position,
            components::status,
            components::created_at,
            components::updated_at,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, public_id, name, description, group_name, position, status, created_at, updated_at)| ComponentRow {
            id,
            public_id,
            name,
            description,
            group_name,
            position,
            status: parse_component_status(&status),
            created_at,
            updated_at,
        })
        .collect())
}

/// One page of public incidents, newest first, and how many there are in all.
pub async fn load_history(
    conn: &mut AsyncPgConnection,
    page: i64,
) -> QueryResult<(Vec<ComponentRow>, Vec<IncidentData>, i64)> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |conn| {
            let total: i64 = public_incidents!().count().get_result(conn).await?;
            let rows: Vec<IncidentTuple> = public_incidents!()
                .order((incidents::declared_at.desc(), incidents::id.desc()))
                .limit(HISTORY_PAGE_SIZE)
                .offset((page.max(1) - 1) * HISTORY_PAGE_SIZE)
                .select(incident_columns!())
                .load(conn)
                .await?;
            let components = load_components(conn).await?;
            let incidents = complete_incidents(conn, rows).await?;
            Ok((components, incidents, total))
        })
        .await
}

/// One public incident by its public id (`None` for unknown or non-public ones).
pub async fn load_incident(
    conn: &mut AsyncPgConnection,
    public_id: &str,
) -> QueryResult<Option<(Vec<ComponentRow>, IncidentData)>> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |conn| {
            let rows: Vec<IncidentTuple> = public_incidents!()
                .filter(incidents::public_id.eq(public_id))
                .select(incident_columns!())
                .load(conn)
                .await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let components = load_components(conn).await?;
            let incident = complete_incidents(conn, rows).await?.into_iter().next();
            Ok(incident.map(|i| (components, i)))
        })
        .await
}

/// Adds published updates, affected components and component changes.
async fn complete_incidents(conn: &mut AsyncPgConnection, rows: Vec<IncidentTuple>) -> QueryResult<Vec<IncidentData>> {
    let ids: Vec<IncidentId> = rows.iter().map(|r| r.0).collect();
    let links: Vec<(IncidentId, ComponentId)> = incident_components::table
        .filter(incident_components::incident_id.eq_any(&ids))
        .select((incident_components::incident_id, incident_components::component_id))
        .load(conn)
        .await?;
    type UpdateRow = (UpdateId, IncidentId, String, String, String, DateTime<Utc>);
    let updates: Vec<UpdateRow> = incident_updates::table
        .filter(incident_updates::incident_id.eq_any(&ids))
        .filter(incident_updates::audience.eq_any(PUBLIC_AUDIENCES))
        .order((incident_updates::created_at.desc(), incident_updates::id.desc()))
        .select((
            incident_updates::id,
            incident_updates::incident_id,
            incident_updates::public_id,
            incident_updates::status,
            incident_updates::body,
            incident_updates::created_at,
        ))
        .load(conn)
        .await?;
    let update_ids: Vec<UpdateId> = updates.iter().map(|u| u.0).collect();
    let affected: Vec<(Option<UpdateId>, ComponentId, String, String)> = component_status_changes::table
        .filter(component_status_changes::update_id.eq_any(&update_ids))
        .order((component_status_changes::changed_at.asc(), component_status_changes::id.asc()))
        .select((
            component_status_changes::update_id,
            component_status_changes::component_id,
            component_status_changes::old_status,
            component_status_changes::new_status,
        ))
        .load(conn)
        .await?;
    let mut affected_by_update: HashMap<UpdateId, Vec<Affected>> = HashMap::new();
    for (update, component, old, new) in affected {
        if let Some(update) = update {
            affected_by_update.entry(update).or_default().push(Affected {
                component,
                old: parse_component_status(&old),
                new: parse_component_status(&new),
            });
        }
    }
    let mut updates_by_incident: HashMap<IncidentId, Vec<UpdateData>> = HashMap::new();
    for (id, incident, public_id, status, body, created_at) in updates {
        updates_by_incident.entry(incident).or_default().push(UpdateData {
            id,
            public_id,
            status: IncidentStatus::parse(&status).unwrap_or(IncidentStatus::Investigating),
            body,
            created_at,
            affected: affected_by_update.remove(&id).unwrap_or_default(),
        });
    }
    let mut postmortems: HashMap<IncidentId, (String, DateTime<Utc>)> =
        crate::db::postmortems::published_summaries(conn, &ids)
            .await?
            .into_iter()
            .filter_map(|(id, summary, at)| Some((id, (summary, at?))))
            .collect();
    let mut out = Vec::with_capacity(rows.len());
    for (id, public_id, title, status, severity, declared_at, impact_started_at, resolved_at) in rows {
        let updates = updates_by_incident.remove(&id).unwrap_or_default();
        if updates.is_empty() {
            continue;
        }
        out.push(IncidentData {
            id,
            public_id,
            title,
            status: IncidentStatus::parse(&status).unwrap_or(IncidentStatus::Investigating),
            severity: Severity::new(severity).unwrap_or(Severity::ALL[0]),
            declared_at,
            impact_started_at,
            resolved_at,
            components: links.iter().filter(|(i, _)| *i == id).map(|(_, c)| *c).collect(),
            updates,
            postmortem: postmortems.remove(&id),
        });
    }
    Ok(out)
}

async fn load_maintenances(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<Vec<MaintenanceData>> {
    type Row = (
        MaintenanceId,
        String,
        String,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
        DateTime<Utc>,
    );
    macro_rules! columns {
        () => {
            (
                maintenances::id,
                maintenances::public_id,
                maintenances::title,
                maintenances::message,
                maintenances::starts_at,
                maintenances::ends_at,
                maintenances::status,
                maintenances::started_at,
                maintenances::completed_at,
                maintenances::created_at,
                maintenances::updated_at,
            )
        };
    }
    let mut rows: Vec<Row> = maintenances::table
        .filter(maintenances::status.eq_any(["scheduled", "in_progress"]).or(maintenances::ends_at.gt(now)))
        .filter(maintenances::status.ne("cancelled"))
        .select(columns!())
        .load(conn)
        .await?;
    let latest: Vec<Row> = maintenances::table
        .filter(maintenances::status.ne("cancelled"))
        .order((maintenances::starts_at.desc(), maintenances::id.desc()))
        .limit(RECENT_LIMIT)
        .select(columns!())
        .load(conn)
        .await?;
    rows.extend(latest);
    rows.sort_by_key(|r| std::cmp::Reverse((r.4, r.0)));
    rows.dedup_by_key(|r| r.0);
    let ids: Vec<MaintenanceId> = rows.iter().map(|r| r.0).collect();
    let links: Vec<(MaintenanceId, ComponentId)> = maintenance_components::table
        .filter(maintenance_components::maintenance_id.eq_any(&ids))
        .select((maintenance_components::maintenance_id, maintenance_components::component_id))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                public_id,
                title,
                message,
                starts_at,
                ends_at,
                status,
                started_at,
                completed_at,
                created_at,
                updated_at,
            )| {
                MaintenanceData {
                    id,
                    public_id,
                    title,
                    message,
                    starts_at,
                    ends_at,
                    status: MaintenanceStatus::parse(&status).unwrap_or(MaintenanceStatus::Scheduled),
                    started_at,
                    completed_at,
                    created_at,
                    updated_at,
                    components: links.iter().filter(|(m, _)| *m == id).map(|(_, c)| *c).collect(),
                }
            },
        )
        .collect())
}

async fn load_feed(conn: &mut AsyncPgConnection) -> QueryResult<Vec<FeedEntry>> {
    let rows: Vec<(String, String, String, String, String, DateTime<Utc>)> = incident_updates::table
        .inner_join(incidents::table)
        .filter(incidents::visibility.eq(Visibility::Public.as_str()))
        .filter(incident_updates::audience.eq_any(PUBLIC_AUDIENCES))
        .order((incident_updates::created_at.desc(), incident_updates::id.desc()))
        .limit(RECENT_LIMIT)
        .select((
            incident_updates::public_id,
            incidents::public_id,
            crate::db::incidents::public_title_sql(),
            incident_updates::status,
            incident_updates::body,
            incident_updates::created_at,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(public_id, incident_public_id, incident_title, status, body, created_at)| FeedEntry {
            public_id,
            incident_public_id,
            incident_title,
            status: IncidentStatus::parse(&status).unwrap_or(IncidentStatus::Investigating),
            body,
            created_at,
        })
        .collect())
}

fn parse_component_status(s: &str) -> ComponentStatus {
    ComponentStatus::parse(s).unwrap_or(ComponentStatus::Operational)
}
