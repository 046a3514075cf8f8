//! Incidents: declaring, the list, the room and everything done in it.

pub mod actions;
pub mod declare;
pub mod fragments;
pub mod links;
pub mod list;
pub mod live;
pub mod room;
pub mod updates;

use chrono::{DateTime, Utc};

/// A moment in the viewer's time zone, for people.
pub fn local_time(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// A moment for a `datetime` attribute (whole seconds: HTML allows at most milliseconds).
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
