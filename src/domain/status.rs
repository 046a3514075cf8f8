//! What the outside world is told: component states, the overall banner,
//! update audiences, scheduled maintenance, and how they map onto the
//! Statuspage v2 vocabulary that existing widgets and monitors read.

use super::incident::{IncidentStatus, Severity, text_enum};

text_enum!(
    /// A component's state as the status page shows it (Statuspage's values).
    ComponentStatus, "Choose operational, degraded performance, partial outage, major outage or under maintenance." {
        Operational = "operational" / "Operational",
        DegradedPerformance = "degraded_performance" / "Degraded performance",
        PartialOutage = "partial_outage" / "Partial outage",
        MajorOutage = "major_outage" / "Major outage",
        UnderMaintenance = "under_maintenance" / "Under maintenance",
    }
);

impl ComponentStatus {
    /// How bad it is, for "worst wins": maintenance ranks above operational
    /// but below any outage or degradation.
    pub fn rank(self) -> u8 {
        match self {
            ComponentStatus::Operational => 0,
            ComponentStatus::UnderMaintenance => 1,
            ComponentStatus::DegradedPerformance => 2,
            ComponentStatus::PartialOutage => 3,
            ComponentStatus::MajorOutage => 4,
        }
    }

    /// Short name for CSS classes.
    pub fn css(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::DegradedPerformance => "degraded",
            ComponentStatus::PartialOutage => "partial",
            ComponentStatus::MajorOutage => "major",
            ComponentStatus::UnderMaintenance => "maintenance",
        }
    }
}

/// The banner over the whole page, derived from component states only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overall {
    pub worst: ComponentStatus,
}

impl Overall {
    /// Worst component wins; no components at all means all is well.
    pub fn of(statuses: impl IntoIterator<Item = ComponentStatus>) -> Overall {
        let worst = statuses.into_iter().max_by_key(|s| s.rank()).unwrap_or(ComponentStatus::Operational);
        Overall { worst }
    }

    pub fn description(self) -> &'static str {
        match self.worst {
            ComponentStatus::Operational => "All Systems Operational",
            ComponentStatus::DegradedPerformance => "Degraded Performance",
            ComponentStatus::PartialOutage => "Partial System Outage",
            ComponentStatus::MajorOutage => "Major System Outage",
            ComponentStatus::UnderMaintenance => "Service Under Maintenance",
        }
    }

    /// Statuspage's `status.indicator`: none, minor, major, critical or maintenance.
    pub fn indicator(self) -> &'static str {
        match self.worst {
            ComponentStatus::Operational => "none",
            ComponentStatus::DegradedPerformance => "minor",
            ComponentStatus::PartialOutage => "major",
            ComponentStatus::MajorOutage => "critical",
            ComponentStatus::UnderMaintenance => "maintenance",
        }
    }
}

text_enum!(
    /// Who an incident update is for.
    Audience, "Choose internal stakeholders, the public status page, or both." {
        Internal = "internal" / "Internal stakeholders",
        Public = "public" / "Public status page",
        Both = "both" / "Both",
    }
);

impl Audience {
    pub fn is_public(self) -> bool {
        matches!(self, Audience::Public | Audience::Both)
    }
    pub fn is_internal(self) -> bool {
        matches!(self, Audience::Internal | Audience::Both)
    }
}

text_enum!(
    /// Where a scheduled maintenance is.
    MaintenanceStatus, "Choose scheduled, in progress, completed or cancelled." {
        Scheduled = "scheduled" / "Scheduled",
        InProgress = "in_progress" / "In progress",
        Completed = "completed" / "Completed",
        Cancelled = "cancelled" / "Cancelled",
    }
);

/// Statuspage's incident `impact` for a severity.
pub fn impact_of(severity: Severity) -> &'static str {
    match severity.level() {
        1 => "critical",
        2 => "major",
        3 => "minor",
        _ => "none",
    }
}

/// Statuspage's incident status (it has no "closed": a closed incident is resolved).
pub fn public_status_of(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Closed => "resolved",
        other => other.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_component_sets_the_banner() {
        use ComponentStatus::*;
        assert_eq!(Overall::of([]).description(), "All Systems Operational");
        assert_eq!(Overall::of([Operational, Operational]).indicator(), "none");
        assert_eq!(Overall::of([Operational, UnderMaintenance]).description(), "Service Under Maintenance");
        assert_eq!(Overall::of([UnderMaintenance, DegradedPerformance]).indicator(), "minor");
        assert_eq!(Overall::of([PartialOutage, DegradedPerformance]).description(), "Partial System Outage");
        assert_eq!(Overall::of([MajorOutage, PartialOutage, Operational]).indicator(), "critical");
    }

    #[test]
    fn statuses_parse_from_statuspage_values() {
        for s in ComponentStatus::ALL {
            assert_eq!(ComponentStatus::parse(s.as_str()), Ok(*s));
        }
        assert!(ComponentStatus::parse("down").is_err());
    }

    #[test]
    fn closed_incidents_are_resolved_publicly() {
        assert_eq!(public_status_of(IncidentStatus::Closed), "resolved");
        assert_eq!(public_status_of(IncidentStatus::Identified), "identified");
    }
}
