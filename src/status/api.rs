//! The Statuspage v2 public API's JSON, field for field: the same names,
//! nesting and enum values as Atlassian Statuspage, so that existing widgets
//! and monitors can read our page.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::load::{Data, IncidentData, MaintenanceData, Phase};
use super::view::{Item, items};
use crate::domain::status::{Overall, impact_of, public_status_of};

/// What every document starts with.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub url: String,
    pub time_zone: &'static str,
    pub updated_at: String,
    /// Ours, beyond Statuspage's fields: true while the database cannot be
    /// read and this is the last data that could be (read at `data_as_of`).
    pub stale: bool,
    pub data_as_of: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub created_at: String,
    pub updated_at: String,
    pub position: i32,
    pub description: Option<String>,
    pub showcase: bool,
    pub start_date: Option<String>,
    pub group_id: Option<String>,
    pub page_id: String,
    pub group: bool,
    pub only_show_if_degraded: bool,
    /// Only on groups: the ids of their components.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AffectedComponent {
    pub code: String,
    pub name: String,
    pub old_status: &'static str,
    pub new_status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentUpdate {
    pub id: String,
    pub status: &'static str,
    pub body: String,
    pub incident_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub display_at: String,
    /// `null` when the update changed no component (as Statuspage does).
    pub affected_components: Option<Vec<AffectedComponent>>,
    pub deliver_notifications: bool,
    pub custom_tweet: Option<String>,
    pub tweet_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub created_at: String,
    pub updated_at: String,
    pub monitoring_at: Option<String>,
    pub resolved_at: Option<String>,
    pub impact: &'static str,
    pub shortlink: String,
    pub started_at: String,
    pub page_id: String,
    pub incident_updates: Vec<IncidentUpdate>,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduledMaintenance {
    /// Statuspage gives a maintenance every field of an incident...
    #[serde(flatten)]
    pub incident: Incident,
    /// ...and its window.
    pub scheduled_for: String,
    pub scheduled_until: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub indicator: &'static str,
    pub description: &'static str,
}

#[derive(Serialize)]
pub struct SummaryDoc<'a> {
    pub page: &'a Page,
    pub components: &'a [Component],
    pub incidents: Vec<&'a Incident>,
    pub scheduled_maintenances: Vec<&'a ScheduledMaintenance>,
    pub status: &'a Status,
}

#[derive(Serialize)]
pub struct StatusDoc<'a> {
    pub page: &'a Page,
    pub status: &'a Status,
}

#[derive(Serialize)]
pub struct ComponentsDoc<'a> {
    pub page: &'a Page,
    pub components: &'a [Component],
}

#[derive(Serialize)]
pub struct IncidentsDoc<'a> {
    pub page: &'a Page,
    pub incidents: Vec<&'a Incident>,
}

#[derive(Serialize)]
pub struct MaintenancesDoc<'a> {
    pub page: &'a Page,
    pub scheduled_maintenances: Vec<&'a ScheduledMaintenance>,
}

/// Statuspage's timestamp style: "2026-11-21T10:00:00.000Z".
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A stable 12-character id in Statuspage's alphabet (a-z, 0-9).
pub fn short_id(seed: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    Sha256::digest(seed.as_bytes()).iter().take(12).map(|b| char::from(ALPHABET[usize::from(*b) % 36])).collect()
}

/// The page's identity, from settings.
#[derive(Debug, Clone)]
pub struct Identity {
    pub page_id: String,
    pub name: String,
    pub base_url: url::Url,
}

impl Identity {
    pub fn new(name: &str, base_url: &url::Url) -> Identity {
        Identity { page_id: short_id(base_url.as_str()), name: name.to_owned(), base_url: base_url.clone() }
    }

    /// An absolute URL for a path without its leading slash ("status/feed.atom").
    pub fn url(&self, path: &str) -> String {
        self.base_url.join(path).map(String::from).unwrap_or_else(|_| format!("{}{path}", self.base_url))
    }

    pub fn incident_url(&self, public_id: &str) -> String {
        self.url(&format!("status/incidents/{public_id}"))
    }
}

/// Every JSON document's parts, built once per snapshot.
pub struct Documents {
    pub page: Page,
    pub components: Vec<Component>,
    pub incidents: Vec<Incident>,
    pub maintenances: Vec<(Phase, ScheduledMaintenance)>,
    pub status: Status,
}

impl Documents {
    /// `stale`: the data is the last that could be read (the database is not answering).
    pub fn build(id: &Identity, data: &Data, stale: bool) -> Documents {
        let page = Page {
            id: id.page_id.clone(),
            name: id.name.clone(),
            url: id.url("status"),
            time_zone: "Etc/UTC",
            updated_at: timestamp(data.updated_at()),
            stale,
            data_as_of: timestamp(data.loaded_at),
        };
        let components = components(id, data);
        let incidents = data.incidents.iter().map(|i| incident(id, data, &components, i)).collect();
        let now = data.loaded_at;
        let maintenances = data
            .maintenances
            .iter()
            .filter_map(|m| m.phase(now).map(|p| (p, maintenance(id, data, &components, m, p))))
            .collect();
        let overall = Overall::of(data.components.iter().map(|c| c.status));
        let status = Status { indicator: overall.indicator(), description: overall.description() };
        Documents { page, components, incidents, maintenances, status }
    }

    pub fn unresolved(&self) -> Vec<&Incident> {
        self.incidents.iter().filter(|i| i.status != "resolved" && i.status != "postmortem").collect()
    }

    pub fn maintenances_in(&self, phases: &[Phase]) -> Vec<&ScheduledMaintenance> {
        self.maintenances.iter().filter(|(p, _)| phases.contains(p)).map(|(_, m)| m).collect()
    }

    pub fn summary(&self) -> SummaryDoc<'_> {
        SummaryDoc {
            page: &self.page,
            components: &self.components,
            incidents: self.unresolved(),
            scheduled_maintenances: self.maintenances_in(&[Phase::InProgress, Phase::Upcoming]),
            status: &self.status,
        }
    }

    pub fn recent_incidents(&self) -> IncidentsDoc<'_> {
        let mut list: Vec<&Incident> = self.incidents.iter().collect();
        list.truncate(super::load::RECENT_LIMIT as usize);
        IncidentsDoc { page: &self.page, incidents: list }
    }
}

/// Components in page order; each group is listed as a component with
/// `group: true` just before its members.
fn components(id: &Identity, data: &Data) -> Vec<Component> {
    let mut out = Vec::with_capacity(data.components.len());
    for item in items(data) {
        match item {
            Item::Single(c) => out.push(component(id, c, None)),
            Item::Group { name, members } => {
                let group_id = short_id(&format!("group:{}:{name}", id.base_url));
                let status = Overall::of(members.iter().map(|c| c.status)).worst;
                out.push(Component {
                    id: group_id.clone(),
                    name: name.to_owned(),
                    status: status.as_str(),
                    created_at: timestamp(members.iter().map(|c| c.created_at).min().unwrap_or(data.loaded_at)),
                    updated_at: timestamp(members.iter().map(|c| c.updated_at).max().unwrap_or(data.loaded_at)),
                    position: members.iter().map(|c| c.position).min().unwrap_or(0),
                    description: None,
                    showcase: false,
                    start_date: None,
                    group_id: None,
                    page_id: id.page_id.clone(),
                    group: true,
                    only_show_if_degraded: false,
                    components: Some(members.iter().map(|c| c.public_id.clone()).collect()),
                });
                out.extend(members.iter().map(|c| component(id, c, Some(&group_id))));
            }
        }
    }
    out
}

fn component(id: &Identity, c: &super::load::ComponentRow, group_id: Option<&str>) -> Component {
    Component {
        id: c.public_id.clone(),
        name: c.name.clone(),
        status: c.status.as_str(),
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
        position: c.position,
        description: (!c.description.trim().is_empty()).then(|| c.description.clone()),
        showcase: true,
        start_date: Some(c.created_at.format("%Y-%m-%d").to_string()),
        group_id: group_id.map(str::to_owned),
        page_id: id.page_id.clone(),
        group: false,
        only_show_if_degraded: false,
        components: None,
    }
}

fn component_for(all: &[Component], data: &Data, cid: crate::db::ComponentId) -> Option<Component> {
    let row = data.component(cid)?;
    all.iter().find(|c| !c.group && c.id == row.public_id).cloned()
}

fn incident(id: &Identity, data: &Data, all: &[Component], i: &IncidentData) -> Incident {
    Incident {
        id: i.public_id.clone(),
        name: i.title.clone(),
        // Statuspage's last stage: resolved, with its post-mortem published.
        status: if i.postmortem.is_some() && !i.is_active() { "postmortem" } else { public_status_of(i.status) },
        created_at: timestamp(i.declared_at),
        updated_at: timestamp(i.updated_at()),
        monitoring_at: i.monitoring_at().map(timestamp),
        resolved_at: i.public_resolved_at().map(timestamp),
        impact: impact_of(i.severity),
        shortlink: id.incident_url(&i.public_id),
        started_at: timestamp(i.impact_started_at),
        page_id: id.page_id.clone(),
        incident_updates: i
            .updates
            .iter()
            .map(|u| IncidentUpdate {
                id: u.public_id.clone(),
                status: u.status.as_str(),
                body: u.body.clone(),
                incident_id: i.public_id.clone(),
                created_at: timestamp(u.created_at),
                updated_at: timestamp(u.created_at),
                display_at: timestamp(u.created_at),
                affected_components: (!u.affected.is_empty()).then(|| {
                    u.affected
                        .iter()
                        .filter_map(|a| {
                            let c = data.component(a.component)?;
                            Some(AffectedComponent {
                                code: c.public_id.clone(),
                                name: c.name.clone(),
                                old_status: a.old.as_str(),
                                new_status: a.new.as_str(),
                            })
                        })
                        .collect()
                }),
                deliver_notifications: true,
                custom_tweet: None,
                tweet_id: None,
            })
            .collect(),
        components: i.components.iter().filter_map(|c| component_for(all, data, *c)).collect(),
    }
}

fn maintenance(
    id: &Identity,
    data: &Data,
    all: &[Component],
    m: &MaintenanceData,
    phase: Phase,
) -> ScheduledMaintenance {
    let status = match phase {
        Phase::Upcoming => "scheduled",
        Phase::InProgress => "in_progress",
        Phase::Completed => "completed",
    };
    // Statuspage keeps a list of updates per maintenance; ours has its
    // message and the moments it started and ended.
    let update = |status: &'static str, body: String, at: DateTime<Utc>| IncidentUpdate {
        id: short_id(&format!("maintenance:{}:{status}", m.public_id)),
        status,
        body,
        incident_id: m.public_id.clone(),
        created_at: timestamp(at),
        updated_at: timestamp(at),
        display_at: timestamp(at),
        affected_components: None,
        deliver_notifications: true,
        custom_tweet: None,
        tweet_id: None,
    };
    let mut updates = vec![update("scheduled", m.message.clone(), m.created_at)];
    let started = m.started_at.unwrap_or(m.starts_at);
    if phase != Phase::Upcoming {
        updates.push(update("in_progress", "Scheduled maintenance is currently in progress.".to_owned(), started));
    }
    let completed = m.completed_at.unwrap_or(m.ends_at);
    if phase == Phase::Completed {
        updates.push(update("completed", "The scheduled maintenance has been completed.".to_owned(), completed));
    }
    updates.reverse();
    ScheduledMaintenance {
        incident: Incident {
            id: m.public_id.clone(),
            name: m.title.clone(),
            status,
            created_at: timestamp(m.created_at),
            updated_at: timestamp(m.updated_at),
            monitoring_at: None,
            resolved_at: (phase == Phase::Completed).then(|| timestamp(completed)),
            impact: "maintenance",
            shortlink: id.url(&format!("status#maintenance-{}", m.public_id)),
            started_at: timestamp(started),
            page_id: id.page_id.clone(),
            incident_updates: updates,
            components: m.components.iter().filter_map(|c| component_for(all, data, *c)).collect(),
        },
        scheduled_for: timestamp(m.starts_at),
        scheduled_until: timestamp(m.ends_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_statuspage_ids_and_are_stable() {
        let a = short_id("https://status.example.com/");
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_eq!(a, short_id("https://status.example.com/"));
        assert_ne!(a, short_id("https://other.example.com/"));
    }

    #[test]
    fn timestamps_have_milliseconds_and_zulu() {
        let t = DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").expect("valid").with_timezone(&Utc);
        assert_eq!(timestamp(t), "2026-11-21T10:00:00.000Z");
    }
}
