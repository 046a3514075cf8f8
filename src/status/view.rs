//! What the public pages show, shaped for the templates: components in page
//! order with their uptime bars, incidents with their updates, maintenance
//! windows, past days. Plain values, built from `Data`.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::load::{ComponentRow, Data, IncidentData, MaintenanceData, PAST_DAYS, Phase, UPTIME_DAYS};
use crate::domain::status::{ComponentStatus, Overall, impact_of};
use crate::domain::uptime::{self, History};

/// A top-level entry of the component list: a component of its own, or a
/// group and its members.
pub enum Item<'a> {
    Single(&'a ComponentRow),
    Group { name: &'a str, members: Vec<&'a ComponentRow> },
}

/// Components grouped by `group_name`; groups and ungrouped components
/// ordered together by position (a group by its first member's), then name.
pub fn items(data: &Data) -> Vec<Item<'_>> {
    items_of(&data.components)
}

pub fn items_of(components: &[ComponentRow]) -> Vec<Item<'_>> {
    let mut groups: BTreeMap<&str, Vec<&ComponentRow>> = BTreeMap::new();
    let mut out: Vec<((i32, String), Item<'_>)> = Vec::new();
    for c in components {
        if c.group_name.trim().is_empty() {
            out.push(((c.position, c.name.to_lowercase()), Item::Single(c)));
        } else {
            groups.entry(c.group_name.as_str()).or_default().push(c);
        }
    }
    for (name, mut members) in groups {
        members.sort_by_key(|c| (c.position, c.name.to_lowercase()));
        let position = members.iter().map(|c| c.position).min().unwrap_or(0);
        out.push(((position, name.to_lowercase()), Item::Group { name, members }));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, item)| item).collect()
}

/// A moment, for `<time datetime=...>`.
#[derive(Debug, Clone)]
pub struct TimeView {
    pub iso: String,
    pub text: String,
}

impl TimeView {
    pub fn of(t: DateTime<Utc>) -> TimeView {
        TimeView {
            iso: t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            text: t.format("%b %-d, %Y, %H:%M UTC").to_string(),
        }
    }

    pub fn day(d: NaiveDate) -> TimeView {
        TimeView { iso: d.format("%Y-%m-%d").to_string(), text: d.format("%b %-d, %Y").to_string() }
    }

    /// A month, e.g. "2026-12" / "December 2026".
    pub fn month(d: NaiveDate) -> TimeView {
        TimeView { iso: d.format("%Y-%m").to_string(), text: d.format("%B %Y").to_string() }
    }
}

pub struct DayView {
    pub css: &'static str,
    pub text: String,
}

pub struct ComponentView {
    pub public_id: String,
    pub name: String,
    pub description: String,
    pub css: &'static str,
    pub status: &'static str,
    /// "99.98% uptime", or "No data yet".
    pub uptime: String,
    pub days: Vec<DayView>,
}

pub struct ItemView {
    /// `None` for a component of its own (then `members` holds just it).
    pub group: Option<String>,
    pub css: &'static str,
    pub status: &'static str,
    pub members: Vec<ComponentView>,
}

pub struct UpdateView {
    pub public_id: String,
    pub status: &'static str,
    pub body: String,
    pub at: TimeView,
}

pub struct IncidentView {
    pub public_id: String,
    pub title: String,
    pub status: &'static str,
    pub active: bool,
    /// Statuspage's impact (none, minor, major, critical), for the colour.
    pub impact: &'static str,
    pub components: String,
    pub started: TimeView,
    pub resolved: Option<TimeView>,
    /// From impact start to resolution, e.g. "1 h 20 min", once resolved.
    pub duration: Option<String>,
    pub updates: Vec<UpdateView>,
    /// The published post-mortem's summary on the incident's page, once there is one.
    pub postmortem_url: Option<String>,
    pub postmortem_summary: Option<PostmortemSummary>,
}

/// A published post-mortem's summary, as the public incident page shows it.
pub struct PostmortemSummary {
    /// Sanitised HTML (the summary is Markdown).
    pub html: String,
    pub published: TimeView,
}

pub struct MaintenanceView {
    pub public_id: String,
    pub title: String,
    pub message: String,
    pub from: TimeView,
    pub until: TimeView,
    pub components: String,
}

pub struct PastDay {
    pub date: TimeView,
    pub incidents: Vec<IncidentView>,
    /// Incidents declared that day and still active (shown above, not here).
    pub ongoing: usize,
}

/// A component the subscribe form offers.
pub struct Choice {
    pub public_id: String,
    pub name: String,
}

/// Everything on `/status`.
pub struct FrontPage {
    pub banner_css: &'static str,
    pub banner: &'static str,
    pub items: Vec<ItemView>,
    pub active: Vec<IncidentView>,
    pub maintenance_now: Vec<MaintenanceView>,
    pub maintenance_next: Vec<MaintenanceView>,
    pub past: Vec<PastDay>,
    pub choices: Vec<Choice>,
}

pub fn front_page(data: &Data) -> FrontPage {
    let now = data.loaded_at;
    let overall = Overall::of(data.components.iter().map(|c| c.status));
    let items = items(data)
        .into_iter()
        .map(|item| match item {
            Item::Single(c) => ItemView {
                group: None,
                css: c.status.css(),
                status: c.status.label(),
                members: vec![component(data, c)],
            },
            Item::Group { name, members } => {
                let worst = Overall::of(members.iter().map(|c| c.status)).worst;
                ItemView {
                    group: Some(name.to_owned()),
                    css: worst.css(),
                    status: worst.label(),
                    members: members.into_iter().map(|c| component(data, c)).collect(),
                }
            }
        })
        .collect();
    let active = data.incidents.iter().filter(|i| i.is_active()).map(|i| incident(&data.components, i)).collect();
    let maintenance = |phase: Phase| {
        let mut list: Vec<&MaintenanceData> =
            data.maintenances.iter().filter(|m| m.phase(now) == Some(phase)).collect();
        list.sort_by_key(|m| m.starts_at);
        list.into_iter().map(|m| maintenance_view(&data.components, m)).collect()
    };
    let today = now.date_naive();
    let past = (0..PAST_DAYS)
        .filter_map(|n| today.checked_sub_days(Days::new(u64::from(n))))
        .map(|date| PastDay {
            date: TimeView::day(date),
            // Active incidents are listed once, in full, above.
            ongoing: data.incidents.iter().filter(|i| i.declared_at.date_naive() == date && i.is_active()).count(),
            incidents: data
                .incidents
                .iter()
                .filter(|i| i.declared_at.date_naive() == date && !i.is_active())
                .map(|i| incident(&data.components, i))
                .collect(),
        })
        .collect();
    let choices =
        data.components.iter().map(|c| Choice { public_id: c.public_id.clone(), name: c.name.clone() }).collect();
    FrontPage {
        banner_css: overall.worst.css(),
        banner: overall.description(),
        items,
        active,
        maintenance_now: maintenance(Phase::InProgress),
        maintenance_next: maintenance(Phase::Upcoming),
        past,
        choices,
    }
}

fn component(data: &Data, c: &ComponentRow) -> ComponentView {
    let changes = data.changes.get(&c.id).map(Vec::as_slice).unwrap_or(&[]);
    let history = History {
        created_at: c.created_at,
        state_before: data.state_before.get(&c.id).copied(),
        changes,
        current: c.status,
    };
    let days = uptime::daily(&history, UPTIME_DAYS, data.loaded_at);
    let uptime = match uptime::percentage(&days) {
        Some(p) => format!("{} uptime", uptime::format_percent(p, 2)),
        None => "No data yet".to_owned(),
    };
    ComponentView {
        public_id: c.public_id.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        css: c.status.css(),
        status: c.status.label(),
        uptime,
        days: days.iter().map(|d| DayView { css: bar_class(d), text: d.describe() }).collect(),
    }
}

/// The one-letter class of a day's bar (static/css/status.css lists them).
pub fn bar_class(day: &uptime::Day) -> &'static str {
    match day.worst {
        None => "n",
        Some(ComponentStatus::Operational) => "o",
        Some(ComponentStatus::DegradedPerformance) => "d",
        Some(ComponentStatus::PartialOutage) => "p",
        Some(ComponentStatus::MajorOutage) => "m",
        Some(ComponentStatus::UnderMaintenance) => "u",
    }
}

fn names(components: &[ComponentRow], ids: &[crate::db::ComponentId]) -> String {
    let mut names: Vec<&str> = components.iter().filter(|c| ids.contains(&c.id)).map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.join(", ")
}

pub fn incident(components: &[ComponentRow], i: &IncidentData) -> IncidentView {
    IncidentView {
        public_id: i.public_id.clone(),
        title: i.title.clone(),
        status: status_label(i),
        active: i.is_active(),
        impact: impact_of(i.severity),
        components: names(components, &i.components),
        started: TimeView::of(i.impact_started_at),
        resolved: i.public_resolved_at().map(TimeView::of),
        duration: i.public_resolved_at().map(|end| crate::domain::metrics::format_duration(end - i.impact_started_at)),
        updates: i
            .updates
            .iter()
            .map(|u| UpdateView {
                public_id: u.public_id.clone(),
                status: u.status.label(),
                body: u.body.clone(),
                at: TimeView::of(u.created_at),
            })
            .collect(),
        postmortem_url: i.postmortem.as_ref().map(|_| format!("/status/incidents/{}#postmortem", i.public_id)),
        postmortem_summary: i.postmortem.as_ref().map(|(summary, at)| PostmortemSummary {
            html: crate::domain::markdown::to_safe_html(summary),
            published: TimeView::of(*at),
        }),
    }
}

fn status_label(i: &IncidentData) -> &'static str {
    // Closed is internal bookkeeping: the public sees "Resolved".
    match i.status {
        crate::domain::incident::IncidentStatus::Closed => "Resolved",
        s => s.label(),
    }
}

fn maintenance_view(components: &[ComponentRow], m: &MaintenanceData) -> MaintenanceView {
    MaintenanceView {
        public_id: m.public_id.clone(),
        title: m.title.clone(),
        message: m.message.clone(),
        from: TimeView::of(m.starts_at),
        until: TimeView::of(m.ends_at),
        components: names(components, &m.components),
    }
}

/// Incidents grouped by the month they were declared, newest first, as
/// Statuspage's history shows them (the incidents come newest first).
pub fn by_month(components: &[ComponentRow], incidents: &[IncidentData]) -> Vec<PastDay> {
    let mut months: Vec<PastDay> = Vec::new();
    for i in incidents {
        let month = TimeView::month(i.declared_at.date_naive());
        let view = incident(components, i);
        match months.last_mut() {
            Some(m) if m.date.iso == month.iso => m.incidents.push(view),
            _ => months.push(PastDay { date: month, incidents: vec![view], ongoing: 0 }),
        }
    }
    months
}

/// Status classes the stylesheet knows, for a unit test below.
#[cfg(test)]
const CSS_CLASSES: [&str; 6] = ["operational", "degraded", "partial", "major", "maintenance", "none"];

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, group: &str, position: i32) -> ComponentRow {
        let t = DateTime::UNIX_EPOCH;
        ComponentRow {
            id: crate::db::ComponentId(i64::from(position)),
            public_id: name.to_lowercase(),
            name: name.to_owned(),
            description: String::new(),
            group_name: group.to_owned(),
            position,
            status: ComponentStatus::Operational,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn groups_and_single_components_share_one_order() {
        let rows = vec![row("Web", "", 2), row("Checkout", "Shop", 1), row("Cart", "Shop", 3), row("API", "", 0)];
        let order: Vec<String> = items_of(&rows)
            .iter()
            .map(|i| match i {
                Item::Single(c) => c.name.clone(),
                Item::Group { name, members } => {
                    format!("{name}[{}]", members.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(","))
                }
            })
            .collect();
        assert_eq!(order, ["API", "Shop[Checkout,Cart]", "Web"]);
    }

    #[test]
    fn every_status_has_a_css_class() {
        for s in ComponentStatus::ALL {
            assert!(CSS_CLASSES.contains(&s.css()));
        }
    }
}
