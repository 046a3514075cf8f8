//! On-call schedules: `oncall_schedules`, their layers and layer members,
//! overrides, and the secret calendar-feed links (`oncall_feed_tokens`).
//! `load_rotation` turns the rows into the pure `domain::oncall::Rotation`.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{oncall_feed_tokens, oncall_layer_members, oncall_layers, oncall_overrides, oncall_schedules};
use super::{LayerId, ScheduleId, UserId};
use crate::domain::oncall::{Layer as DomainLayer, Override, Restriction, Rotation, ShiftUnit};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oncall_schedules)]
pub struct Schedule {
    pub id: ScheduleId,
    pub name: String,
    pub time_zone: String,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl Schedule {
    /// The zone; UTC should the column ever hold an unknown name (it is checked on the way in).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oncall_layers)]
pub struct Layer {
    pub id: LayerId,
    pub schedule_id: ScheduleId,
    pub position: i32,
    pub start_date: NaiveDate,
    pub handoff_time: NaiveTime,
    pub shift_length: i32,
    pub shift_unit: String,
    pub restrict_weekdays: i32,
    pub restrict_start: Option<NaiveTime>,
    pub restrict_end: Option<NaiveTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = oncall_layers)]
pub struct NewLayer {
    pub schedule_id: ScheduleId,
    pub position: i32,
    pub start_date: NaiveDate,
    pub handoff_time: NaiveTime,
    pub shift_length: i32,
    pub shift_unit: String,
    pub restrict_weekdays: i32,
    pub restrict_start: Option<NaiveTime>,
    pub restrict_end: Option<NaiveTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oncall_overrides)]
pub struct OverrideRow {
    pub id: i64,
    pub schedule_id: ScheduleId,
    pub user_id: UserId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// A layer with its participants in order.
#[derive(Debug, Clone)]
pub struct LayerWithMembers {
    pub layer: Layer,
    pub members: Vec<UserId>,
}

impl LayerWithMembers {
    pub fn to_domain(&self) -> DomainLayer<UserId> {
        let l = &self.layer;
        let restriction = match (l.restrict_start, l.restrict_end) {
            (Some(start), Some(end)) => {
                let mut weekdays = [false; 7];
                for (i, w) in weekdays.iter_mut().enumerate() {
                    *w = l.restrict_weekdays & (1 << i) != 0;
                }
                Some(Restriction { weekdays, start, end })
            }
            _ => None,
        };
        DomainLayer {
            participants: self.members.clone(),
            start_date: l.start_date,
            handoff: l.handoff_time,
            shift_length: u32::try_from(l.shift_length).unwrap_or(1),
            unit: ShiftUnit::parse(&l.shift_unit).unwrap_or(ShiftUnit::Days),
            restriction,
        }
    }
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    name: &str,
    time_zone: &str,
    created_by: Option<UserId>,
) -> QueryResult<Schedule> {
    diesel::insert_into(oncall_schedules::table)
        .values((
            oncall_schedules::name.eq(name),
            oncall_schedules::time_zone.eq(time_zone),
            oncall_schedules::created_by.eq(created_by),
        ))
        .returning(Schedule::as_returning())
        .get_result(conn)
        .await
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Schedule>> {
    oncall_schedules::table.order(oncall_schedules::name.asc()).select(Schedule::as_select()).load(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, id: ScheduleId) -> QueryResult<Option<Schedule>> {
    oncall_schedules::table.find(id).select(Schedule::as_select()).first(conn).await.optional()
}

pub async fn find_by_name(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<Option<Schedule>> {
    oncall_schedules::table
        .filter(super::lower(oncall_schedules::name).eq(name.to_lowercase()))
        .select(Schedule::as_select())
        .first(conn)
        .await
        .optional()
}

/// Adds a layer after the existing ones, with its participants in order.
pub async fn insert_layer(conn: &mut AsyncPgConnection, new: &NewLayer, members: &[UserId]) -> QueryResult<Layer> {
    let layer: Layer =
        diesel::insert_into(oncall_layers::table).values(new).returning(Layer::as_returning()).get_result(conn).await?;
    let rows: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, u)| {
            (
                oncall_layer_members::layer_id.eq(layer.id),
                oncall_layer_members::position.eq(i32::try_from(i).unwrap_or(i32::MAX)),
                oncall_layer_members::user_id.eq(*u),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(oncall_layer_members::table).values(&rows).execute(conn).await?;
    }
    Ok(layer)
}

pub async fn next_layer_position(conn: &mut AsyncPgConnection, id: ScheduleId) -> QueryResult<i32> {
    let max: Option<i32> = oncall_layers::table
        .filter(oncall_layers::schedule_id.eq(id))
        .select(diesel::dsl::max(oncall_layers::position))
        .first(conn)
        .await?;
    Ok(max.map_or(0, |m| m + 1))
}

/// The layers of some schedules (all when `ids` is `None`), in order, with members.
pub async fn layers(conn: &mut AsyncPgConnection, ids: Option<&[ScheduleId]>) -> QueryResult<Vec<LayerWithMembers>> {
    let mut q = oncall_layers::table.select(Layer::as_select()).into_boxed();
    if let Some(ids) = ids {
        q = q.filter(oncall_layers::schedule_id.eq_any(ids.to_vec()));
    }
    let layers: Vec<Layer> = q.order((oncall_layers::schedule_id, oncall_layers::position)).load(conn).await?;
    let layer_ids: Vec<LayerId> = layers.iter().map(|l| l.id).collect();
    let members: Vec<(LayerId, UserId)> = oncall_layer_members::table
        .filter(oncall_layer_members::layer_id.eq_any(&layer_ids))
        .order((oncall_layer_members::layer_id, oncall_layer_members::position))
        .select((oncall_layer_members::layer_id, oncall_layer_members::user_id))
        .load(conn)
        .await?;
    Ok(layers
        .into_iter()
        .map(|layer| {
            let members = members.iter().filter(|(l, _)| *l == layer.id).map(|(_, u)| *u).collect();
            LayerWithMembers { layer, members }
        })
        .collect())
}

pub async fn delete_layer(conn: &mut AsyncPgConnection, schedule: ScheduleId, layer: LayerId) -> QueryResult<bool> {
    let n = diesel::delete(
        oncall_layers::table.filter(oncall_layers::id.eq(layer)).filter(oncall_layers::schedule_id.eq(schedule)),
    )
    .execute(conn)
    .await?;
    Ok(n > 0)
}

pub async fn insert_override(
    conn: &mut AsyncPgConnection,
    schedule: ScheduleId,
    user: UserId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    created_by: Option<UserId>,
) -> QueryResult<OverrideRow> {
    diesel::insert_into(oncall_overrides::table)
        .values((
            oncall_overrides::schedule_id.eq(schedule),
            oncall_overrides::user_id.eq(user),
            oncall_overrides::starts_at.eq(starts_at),
            oncall_overrides::ends_at.eq(ends_at),
            oncall_overrides::created_by.eq(created_by),
        ))
        .returning(OverrideRow::as_returning())
        .get_result(conn)
        .await
}

/// Overrides that end after `after`, oldest first (a later one wins).
pub async fn overrides(
    conn: &mut AsyncPgConnection,
    ids: Option<&[ScheduleId]>,
    after: DateTime<Utc>,
) -> QueryResult<Vec<OverrideRow>> {
    let mut q = oncall_overrides::table.select(OverrideRow::as_select()).into_boxed();
    if let Some(ids) = ids {
        q = q.filter(oncall_overrides::schedule_id.eq_any(ids.to_vec()));
    }
    q.filter(oncall_overrides::ends_at.gt(after)).order(oncall_overrides::id.asc()).load(conn).await
}

/// Every schedule with its rotation, ready for the pure functions.
pub async fn rotations(
    conn: &mut AsyncPgConnection,
    ids: Option<&[ScheduleId]>,
    after: DateTime<Utc>,
) -> QueryResult<Vec<(Schedule, Rotation<UserId>)>> {
    let schedules: Vec<Schedule> = match ids {
        Some(ids) => {
            oncall_schedules::table
                .filter(oncall_schedules::id.eq_any(ids.to_vec()))
                .order(oncall_schedules::name.asc())
                .select(Schedule::as_select())
                .load(conn)
                .await?
        }
        None => list(conn).await?,
    };
    let layers = layers(conn, ids).await?;
    let overrides = overrides(conn, ids, after).await?;
    Ok(schedules
        .into_iter()
        .map(|s| {
            let rotation = Rotation {
                tz: s.tz(),
                layers: layers
                    .iter()
                    .filter(|l| l.layer.schedule_id == s.id)
                    .map(LayerWithMembers::to_domain)
                    .collect(),
                overrides: overrides
                    .iter()
                    .filter(|o| o.schedule_id == s.id)
                    .map(|o| Override { user: o.user_id, start: o.starts_at, end: o.ends_at })
                    .collect(),
            };
            (s, rotation)
        })
        .collect())
}

/// Who a calendar-feed link belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOwner {
    User(UserId),
    Schedule(ScheduleId),
}

/// Replaces the feed link of a person or a schedule with one of this hash.
pub async fn set_feed_token(conn: &mut AsyncPgConnection, owner: FeedOwner, hash: &str) -> QueryResult<()> {
    match owner {
        FeedOwner::User(u) => {
            diesel::delete(oncall_feed_tokens::table.filter(oncall_feed_tokens::user_id.eq(u))).execute(conn).await?;
            diesel::insert_into(oncall_feed_tokens::table)
                .values((oncall_feed_tokens::token_hash.eq(hash), oncall_feed_tokens::user_id.eq(u)))
                .execute(conn)
                .await?;
        }
        FeedOwner::Schedule(s) => {
            diesel::delete(oncall_feed_tokens::table.filter(oncall_feed_tokens::schedule_id.eq(s)))
                .execute(conn)
                .await?;
            diesel::insert_into(oncall_feed_tokens::table)
                .values((oncall_feed_tokens::token_hash.eq(hash), oncall_feed_tokens::schedule_id.eq(s)))
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

pub async fn feed_owner(conn: &mut AsyncPgConnection, hash: &str) -> QueryResult<Option<FeedOwner>> {
    let row: Option<(Option<UserId>, Option<ScheduleId>)> = oncall_feed_tokens::table
        .find(hash)
        .select((oncall_feed_tokens::user_id, oncall_feed_tokens::schedule_id))
        .first(conn)
        .await
        .optional()?;
    Ok(match row {
        Some((Some(u), _)) => Some(FeedOwner::User(u)),
        Some((None, Some(s))) => Some(FeedOwner::Schedule(s)),
        _ => None,
    })
}

/// Records that a shift's start notice is going out; false when some instance sent it already.
pub async fn claim_shift_notice(
    conn: &mut AsyncPgConnection,
    schedule: ScheduleId,
    user: UserId,
    starts_at: DateTime<Utc>,
) -> QueryResult<bool> {
    use super::schema::oncall_shift_notices as n;
    let inserted = diesel::insert_into(n::table)
        .values((n::schedule_id.eq(schedule), n::user_id.eq(user), n::starts_at.eq(starts_at)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted > 0)
}
