//! Managing on call: schedules, layers, overrides, escalation policies and
//! their steps, and which policy pages for each alert source and severity.
//! Admins shape schedules and policies; anyone may cover a shift (an override
//! for themselves); each change is one transaction with its audit entry.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Deserialize;

use super::components::{is_unique_violation, one_line, require_admin};
use super::{Actor, FieldErrors, ServiceError, audit};
use crate::db::escalation::{self, Policy, Target};
use crate::db::ids::AlertSourceId;
use crate::db::schedules::{self, NewLayer, Schedule};
use crate::db::{DbPool, PolicyId, ScheduleId, UserId, users};
use crate::domain::TimeZoneName;
use crate::domain::oncall::{ShiftUnit, localize};

/// The schedule form.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ScheduleInput {
    pub name: String,
    pub time_zone: String,
}

pub async fn create_schedule(pool: &DbPool, actor: &Actor, input: &ScheduleInput) -> Result<Schedule, ServiceError> {
    require_admin(actor)?;
    let mut errors = FieldErrors::new();
    let name = errors.check("name", one_line(&input.name, "name", 80)).unwrap_or_default();
    if name.is_empty() && errors.get("name").is_none() {
        errors.add("name", "Name the schedule, e.g. “Payments primary”.");
    }
    let tz = errors.check("time_zone", TimeZoneName::parse(&input.time_zone));
    let Some(tz) = tz.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let s = match schedules::insert(conn, &name, tz.as_str(), actor.id).await {
            Err(e) if is_unique_violation(&e) => {
                return Err(ServiceError::Invalid(FieldErrors::single(
                    "name",
                    "A schedule with this name exists already.",
                )));
            }
            other => other?,
        };
        audit(conn, actor, "oncall.schedule.add", &s.name, tz.as_str()).await?;
        Ok(s)
    })
    .await
}

/// The layer form.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct LayerInput {
    /// Email addresses, in rotation order, one per line or separated by commas.
    pub participants: String,
    pub start_date: String,
    pub handoff_time: String,
    pub shift_length: String,
    pub shift_unit: String,
    /// "" (always), "weekdays" or "every_day".
    pub restrict: String,
    pub restrict_start: String,
    pub restrict_end: String,
}

/// People named by email, in the order given.
async fn people(conn: &mut AsyncPgConnection, input: &str) -> Result<Result<Vec<UserId>, String>, ServiceError> {
    let mut ids = Vec::new();
    for part in input.split([',', '\n', ';']).map(str::trim).filter(|s| !s.is_empty()) {
        match users::find_by_email(conn, part).await? {
            Some(u) if !u.disabled && !u.is_service => ids.push(u.id),
            _ => return Ok(Err(format!("Nobody here has the email address {part}."))),
        }
    }
    if ids.len() > 100 {
        return Ok(Err("Name at most 100 people.".into()));
    }
    Ok(Ok(ids))
}

fn parse_time(input: &str, what: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(input.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(input.trim(), "%H:%M:%S"))
        .map_err(|_| format!("Enter the {what} as hours and minutes, e.g. 09:00."))
}

pub async fn add_layer(
    pool: &DbPool,
    actor: &Actor,
    schedule: ScheduleId,
    input: &LayerInput,
) -> Result<(), ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    let s = schedules::find(&mut conn, schedule).await?.ok_or(ServiceError::NotFound)?;
    let mut errors = FieldErrors::new();
    let members = errors.check("participants", people(&mut conn, &input.participants).await?);
    if members.as_ref().is_some_and(Vec::is_empty) {
        errors.add("participants", "Name at least one person by email address.");
    }
    let start_date = errors.check(
        "start_date",
        NaiveDate::parse_from_str(input.start_date.trim(), "%Y-%m-%d")
            .map_err(|_| "Enter the first day as a date, e.g. 2026-12-07.".to_owned()),
    );
    let handoff = errors.check("handoff_time", parse_time(&input.handoff_time, "hand-off time"));
    let length = errors.check(
        "shift_length",
        match input.shift_length.trim().parse::<i32>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err("Enter a whole number from 1 to 1000.".to_owned()),
        },
    );
    let unit = errors.check("shift_unit", ShiftUnit::parse(&input.shift_unit));
    let (weekdays, window) = match input.restrict.trim() {
        "" | "always" => (127, None),
        kind @ ("weekdays" | "every_day") => {
            let start = errors.check("restrict_start", parse_time(&input.restrict_start, "start of the window"));
            let end = errors.check("restrict_end", parse_time(&input.restrict_end, "end of the window"));
            (if kind == "weekdays" { 0b001_1111 } else { 127 }, start.zip(end))
        }
        _ => {
            errors.add("restrict", "Choose when this layer applies.");
            (127, None)
        }
    };
    let (Some(members), Some(start_date), Some(handoff), Some(length), Some(unit)) =
        (members, start_date, handoff, length, unit)
    else {
        return Err(ServiceError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    conn.transaction(async |conn| {
        let position = schedules::next_layer_position(conn, schedule).await?;
        let new = NewLayer {
            schedule_id: schedule,
            position,
            start_date,
            handoff_time: handoff,
            shift_length: length,
            shift_unit: unit.as_str().to_owned(),
            restrict_weekdays: weekdays,
            restrict_start: window.map(|w| w.0),
            restrict_end: window.map(|w| w.1),
        };
        schedules::insert_layer(conn, &new, &members).await?;
        let detail = format!("layer {} : {} people, every {length} {}", position + 1, members.len(), unit.as_str());
        audit(conn, actor, "oncall.layer.add", &s.name, &detail).await?;
        Ok(())
    })
    .await
}

pub async fn delete_layer(
    pool: &DbPool,
    actor: &Actor,
    schedule: ScheduleId,
    layer: crate::db::LayerId,
) -> Result<(), ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let s = schedules::find(conn, schedule).await?.ok_or(ServiceError::NotFound)?;
        if !schedules::delete_layer(conn, schedule, layer).await? {
            return Err(ServiceError::NotFound);
        }
        audit(conn, actor, "oncall.layer.delete", &s.name, &format!("layer {layer}")).await?;
        Ok(())
    })
    .await
}

/// The override form: times are wall-clock times in the schedule's zone.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct OverrideInput {
    /// Email of who covers; empty means the person filling in the form.
    pub user: String,
    pub starts_at: String,
    pub ends_at: String,
}

fn parse_local(input: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    let t = input.trim();
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .map(|n| localize(tz, n))
        .map_err(|_| "Enter a date and time, e.g. 2026-12-12 09:00.".to_owned())
}

/// Adds an override. Anyone signed in may cover for themselves; covering in
/// someone else's name is for admins.
pub async fn add_override(
    pool: &DbPool,
    actor: &Actor,
    schedule: ScheduleId,
    input: &OverrideInput,
) -> Result<(), ServiceError> {
    let me = actor.id.ok_or(ServiceError::Forbidden("sign in first"))?;
    let mut conn = pool.get().await?;
    let s = schedules::find(&mut conn, schedule).await?.ok_or(ServiceError::NotFound)?;
    let mut errors = FieldErrors::new();
    let who = if input.user.trim().is_empty() {
        Some(me)
    } else {
        match errors.check("user", people(&mut conn, &input.user).await?) {
            Some(ids) if ids.len() == 1 => Some(ids[0]),
            Some(_) => {
                errors.add("user", "Name one person.");
                None
            }
            None => None,
        }
    };
    if who.is_some_and(|w| w != me) && actor.role != crate::domain::Role::Admin {
        errors.add("user", "Only admins add overrides for someone else; leave this empty to cover it yourself.");
    }
    let start = errors.check("starts_at", parse_local(&input.starts_at, s.tz()));
    let end = errors.check("ends_at", parse_local(&input.ends_at, s.tz()));
    if let (Some(a), Some(b)) = (start, end)
        && b <= a
    {
        errors.add("ends_at", "The end must come after the start.");
    }
    match (who, start, end) {
        (Some(who), Some(start), Some(end)) if errors.is_empty() => {
            insert_override(&mut conn, actor, &s, who, start, end).await
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

async fn insert_override(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    s: &Schedule,
    who: UserId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(), ServiceError> {
    conn.transaction(async |conn| {
        schedules::insert_override(conn, s.id, who, start, end, actor.id).await?;
        let name = super::incidents::name_of(conn, who).await?;
        audit(conn, actor, "oncall.override.add", &s.name, &format!("{name} covers {start} – {end}")).await?;
        Ok(())
    })
    .await
}

/// "Take the current shift": the actor covers from now until the current shift ends.
pub async fn take_current_shift(pool: &DbPool, actor: &Actor, schedule: ScheduleId) -> Result<(), ServiceError> {
    let me = actor.id.ok_or(ServiceError::Forbidden("sign in first"))?;
    let mut conn = pool.get().await?;
    let now = Utc::now();
    let (s, rotation) = schedules::rotations(&mut conn, Some(&[schedule]), now)
        .await?
        .into_iter()
        .next()
        .ok_or(ServiceError::NotFound)?;
    let (current, _) = rotation.now_and_next(now, chrono::Duration::days(30));
    let end = match current {
        Some(c) if c.user == me => {
            return Err(ServiceError::Invalid(FieldErrors::single(
                "take",
                "You are on call for this schedule already.",
            )));
        }
        Some(c) => c.end,
        None => now + chrono::Duration::hours(8),
    };
    insert_override(&mut conn, actor, &s, me, now, end).await
}

/// The policy form.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct PolicyInput {
    pub name: String,
    pub repeat_count: String,
}

pub async fn create_policy(pool: &DbPool, actor: &Actor, input: &PolicyInput) -> Result<Policy, ServiceError> {
    require_admin(actor)?;
    let mut errors = FieldErrors::new();
    let name = errors.check("name", one_line(&input.name, "name", 80)).unwrap_or_default();
    if name.is_empty() && errors.get("name").is_none() {
        errors.add("name", "Name the policy, e.g. “Payments”.");
    }
    let repeat = errors.check(
        "repeat_count",
        match input.repeat_count.trim() {
            "" => Ok(0),
            t => t.parse::<i32>().ok().filter(|n| (0..=20).contains(n)).ok_or_else(|| "Enter 0 to 20.".to_owned()),
        },
    );
    let Some(repeat) = repeat.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let p = match escalation::insert(conn, &name, repeat, actor.id).await {
            Err(e) if is_unique_violation(&e) => {
                return Err(ServiceError::Invalid(FieldErrors::single(
                    "name",
                    "A policy with this name exists already.",
                )));
            }
            other => other?,
        };
        audit(conn, actor, "oncall.policy.add", &p.name, &format!("repeats {repeat} times")).await?;
        Ok(p)
    })
    .await
}

/// The step form: wait, and who (schedules by id, people by email).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct StepInput {
    pub wait_minutes: String,
    pub schedules: Vec<String>,
    pub users: String,
}

pub async fn add_step(pool: &DbPool, actor: &Actor, policy: PolicyId, input: &StepInput) -> Result<(), ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    let p = escalation::find(&mut conn, policy).await?.ok_or(ServiceError::NotFound)?;
    let mut errors = FieldErrors::new();
    let wait = errors.check(
        "wait_minutes",
        input
            .wait_minutes
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=1440).contains(n))
            .ok_or_else(|| "Enter the minutes to wait, from 1 to 1440.".to_owned()),
    );
    let mut targets = Vec::new();
    for s in &input.schedules {
        match s.trim().parse::<ScheduleId>() {
            Ok(id) if schedules::find(&mut conn, id).await?.is_some() => targets.push(Target::Schedule(id)),
            _ => errors.add("schedules", "Choose schedules from the list."),
        }
    }
    if let Some(ids) = errors.check("users", people(&mut conn, &input.users).await?) {
        targets.extend(ids.into_iter().map(Target::User));
    }
    if targets.is_empty() && errors.get("schedules").is_none() && errors.get("users").is_none() {
        errors.add("schedules", "Choose a schedule or name a person to notify.");
    }
    let Some(wait) = wait.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
    conn.transaction(async |conn| {
        escalation::add_step(conn, policy, wait, &targets).await?;
        audit(conn, actor, "oncall.step.add", &p.name, &format!("{} targets, wait {wait} min", targets.len())).await?;
        Ok(())
    })
    .await
}

pub async fn delete_step(pool: &DbPool, actor: &Actor, policy: PolicyId, step: i64) -> Result<(), ServiceError> {
    require_admin(actor)?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let p = escalation::find(conn, policy).await?.ok_or(ServiceError::NotFound)?;
        if !escalation::delete_step(conn, policy, step).await? {
            return Err(ServiceError::NotFound);
        }
        audit(conn, actor, "oncall.step.delete", &p.name, &format!("step {step}")).await?;
        Ok(())
    })
    .await
}

fn parse_policy(input: &str) -> Result<Option<PolicyId>, String> {
    match input.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| "Choose a policy from the list.".to_owned()),
    }
}

/// Which policy an alert source pages ("" for none).
pub async fn set_source_policy(
    pool: &DbPool,
    actor: &Actor,
    source: AlertSourceId,
    policy: &str,
) -> Result<(), ServiceError> {
    require_admin(actor)?;
    let policy = parse_policy(policy).map_err(|e| ServiceError::Invalid(FieldErrors::single("policy", e)))?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let name = match policy {
            Some(p) => escalation::find(conn, p).await?.ok_or(ServiceError::NotFound)?.name,
            None => "nobody".to_owned(),
        };
        if !escalation::set_source_policy(conn, source, policy).await? {
            return Err(ServiceError::NotFound);
        }
        audit(conn, actor, "oncall.routing.source", &format!("alert source {source}"), &format!("pages {name}"))
            .await?;
        Ok(())
    })
    .await
}

/// Which policy pages by default for a severity level ("" for none).
pub async fn set_severity_policy(
    pool: &DbPool,
    actor: &Actor,
    severity: i16,
    policy: &str,
) -> Result<(), ServiceError> {
    require_admin(actor)?;
    if !(1..=4).contains(&severity) {
        return Err(ServiceError::NotFound);
    }
    let policy = parse_policy(policy).map_err(|e| ServiceError::Invalid(FieldErrors::single("policy", e)))?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let name = match policy {
            Some(p) => escalation::find(conn, p).await?.ok_or(ServiceError::NotFound)?.name,
            None => "nobody".to_owned(),
        };
        escalation::set_severity_policy(conn, severity, policy).await?;
        audit(conn, actor, "oncall.routing.severity", &format!("SEV{severity}"), &format!("pages {name}")).await?;
        Ok(())
    })
    .await
}

/// Makes a new secret calendar link for a person (their own) or a schedule
/// (admins); the old link stops working. Returns the token (kept only as a hash).
pub async fn reset_feed(pool: &DbPool, actor: &Actor, owner: schedules::FeedOwner) -> Result<String, ServiceError> {
    let subject = match owner {
        schedules::FeedOwner::User(u) => {
            if actor.id != Some(u) {
                return Err(ServiceError::Forbidden("only your own calendar link"));
            }
            "own calendar link".to_owned()
        }
        schedules::FeedOwner::Schedule(s) => {
            require_admin(actor)?;
            format!("schedule {s} calendar link")
        }
    };
    let token = crate::domain::alerts::new_token();
    let hash = crate::domain::alerts::token_hash(&token);
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        if let schedules::FeedOwner::Schedule(s) = owner {
            schedules::find(conn, s).await?.ok_or(ServiceError::NotFound)?;
        }
        schedules::set_feed_token(conn, owner, &hash).await?;
        audit(conn, actor, "oncall.feed.reset", &subject, "the old link no longer works").await?;
        Ok::<_, ServiceError>(())
    })
    .await?;
    Ok(token)
}
