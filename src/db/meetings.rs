//! The `review_meetings` and `review_meeting_invitees` tables, and the
//! people who took part in an incident (the meeting's default invitees).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::ids::{MeetingId, PostmortemId};
use super::schema::{postmortems, review_meeting_invitees, review_meetings};
use super::{IncidentId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = review_meetings)]
pub struct Meeting {
    pub id: MeetingId,
    pub postmortem_id: PostmortemId,
    pub uid: String,
    pub sequence: i32,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The organiser's time zone (IANA name) when the time was last set.
    pub time_zone: String,
    pub location: String,
    pub conference_url: Option<String>,
    pub organizer_id: UserId,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Meeting {
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    pub fn minutes(&self) -> i64 {
        (self.ends_at - self.starts_at).num_minutes()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = review_meeting_invitees)]
pub struct Invitee {
    pub meeting_id: MeetingId,
    pub email: String,
    pub name: String,
    pub user_id: Option<UserId>,
    pub removed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = review_meetings)]
pub struct NewMeeting<'a> {
    pub postmortem_id: PostmortemId,
    pub uid: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: &'a str,
    pub location: &'a str,
    pub conference_url: Option<&'a str>,
    pub organizer_id: UserId,
}

/// The new time and place of a meeting (SEQUENCE goes up by one).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = review_meetings, treat_none_as_null = true)]
pub struct Reschedule<'a> {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: &'a str,
    pub location: &'a str,
    pub conference_url: Option<&'a str>,
}

/// One person on the list, as the form gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvitee {
    pub email: String,
    pub name: String,
    pub user_id: Option<UserId>,
}

/// The post-mortem of an incident.
pub async fn postmortem_of(conn: &mut AsyncPgConnection, incident: IncidentId) -> QueryResult<Option<PostmortemId>> {
    postmortems::table
        .filter(postmortems::incident_id.eq(incident))
        .select(postmortems::id)
        .first(conn)
        .await
        .optional()
}

/// The incident a post-mortem is about.
pub async fn incident_of(conn: &mut AsyncPgConnection, postmortem: PostmortemId) -> QueryResult<Option<IncidentId>> {
    postmortems::table.find(postmortem).select(postmortems::incident_id).first(conn).await.optional()
}

/// The meeting that is on (not cancelled), if any.
pub async fn active(conn: &mut AsyncPgConnection, postmortem: PostmortemId) -> QueryResult<Option<Meeting>> {
    review_meetings::table
        .filter(review_meetings::postmortem_id.eq(postmortem))
        .filter(review_meetings::cancelled_at.is_null())
        .select(Meeting::as_select())
        .first(conn)
        .await
        .optional()
}

/// The same, locked until the transaction ends.
pub async fn active_for_update(conn: &mut AsyncPgConnection, postmortem: PostmortemId) -> QueryResult<Option<Meeting>> {
    review_meetings::table
        .filter(review_meetings::postmortem_id.eq(postmortem))
        .filter(review_meetings::cancelled_at.is_null())
        .select(Meeting::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewMeeting<'_>) -> QueryResult<Meeting> {
    diesel::insert_into(review_meetings::table).values(new).returning(Meeting::as_returning()).get_result(conn).await
}

/// Moves the meeting and raises its SEQUENCE.
pub async fn reschedule(
    conn: &mut AsyncPgConnection,
    id: MeetingId,
    changes: &Reschedule<'_>,
    at: DateTime<Utc>,
) -> QueryResult<Meeting> {
    diesel::update(review_meetings::table.find(id))
        .set((changes, review_meetings::sequence.eq(review_meetings::sequence + 1), review_meetings::updated_at.eq(at)))
        .returning(Meeting::as_returning())
        .get_result(conn)
        .await
}

/// Calls the meeting off and raises its SEQUENCE.
pub async fn cancel(conn: &mut AsyncPgConnection, id: MeetingId, at: DateTime<Utc>) -> QueryResult<Meeting> {
    diesel::update(review_meetings::table.find(id))
        .set((
            review_meetings::cancelled_at.eq(at),
            review_meetings::sequence.eq(review_meetings::sequence + 1),
            review_meetings::updated_at.eq(at),
        ))
        .returning(Meeting::as_returning())
        .get_result(conn)
        .await
}

/// Who is invited now (not taken off the list), in the order they were added.
pub async fn invitees(conn: &mut AsyncPgConnection, meeting: MeetingId) -> QueryResult<Vec<Invitee>> {
    review_meeting_invitees::table
        .filter(review_meeting_invitees::meeting_id.eq(meeting))
        .filter(review_meeting_invitees::removed_at.is_null())
        .order((review_meeting_invitees::name.asc(), review_meeting_invitees::email.asc()))
        .select(Invitee::as_select())
        .load(conn)
        .await
}

/// How many are invited now.
pub async fn count_invitees(conn: &mut AsyncPgConnection, meeting: MeetingId) -> QueryResult<i64> {
    review_meeting_invitees::table
        .filter(review_meeting_invitees::meeting_id.eq(meeting))
        .filter(review_meeting_invitees::removed_at.is_null())
        .count()
        .get_result(conn)
        .await
}

/// Puts people on the list (back on it, for someone taken off earlier).
pub async fn add_invitees(conn: &mut AsyncPgConnection, meeting: MeetingId, people: &[NewInvitee]) -> QueryResult<()> {
    use diesel::upsert::excluded;
    let rows: Vec<_> = people
        .iter()
        .map(|p| {
            (
                review_meeting_invitees::meeting_id.eq(meeting),
                review_meeting_invitees::email.eq(p.email.as_str()),
                review_meeting_invitees::name.eq(p.name.as_str()),
                review_meeting_invitees::user_id.eq(p.user_id),
            )
        })
        .collect();
    for chunk in rows.chunks(1000) {
        diesel::insert_into(review_meeting_invitees::table)
            .values(chunk)
            .on_conflict((review_meeting_invitees::meeting_id, review_meeting_invitees::email))
            .do_update()
            .set((
                review_meeting_invitees::name.eq(excluded(review_meeting_invitees::name)),
                review_meeting_invitees::user_id.eq(excluded(review_meeting_invitees::user_id)),
                review_meeting_invitees::removed_at.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Takes people off the list (they were sent a cancellation).
pub async fn remove_invitees(
    conn: &mut AsyncPgConnection,
    meeting: MeetingId,
    emails: &[String],
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        review_meeting_invitees::table
            .filter(review_meeting_invitees::meeting_id.eq(meeting))
            .filter(review_meeting_invitees::email.eq_any(emails))
            .filter(review_meeting_invitees::removed_at.is_null()),
    )
    .set(review_meeting_invitees::removed_at.eq(at))
    .execute(conn)
    .await
}

/// Someone with an account who took part in an incident.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Participant {
    #[diesel(sql_type = BigInt)]
    pub id: UserId,
    #[diesel(sql_type = Text)]
    pub display_name: String,
    #[diesel(sql_type = Text)]
    pub email: String,
}

/// Everyone who took part: every role holder (past or present), every author
/// of a timeline entry and every task assignee; enabled people, not service
/// accounts; each once, by name.
pub async fn participants(conn: &mut AsyncPgConnection, incident: IncidentId) -> QueryResult<Vec<Participant>> {
    diesel::sql_query(
        "SELECT u.id, u.display_name, u.email FROM users u \
         WHERE NOT u.disabled AND NOT u.is_service AND u.id IN ( \
             SELECT user_id FROM incident_roles WHERE incident_id = $1 \
             UNION SELECT author_id FROM timeline_entries WHERE incident_id = $1 AND author_id IS NOT NULL \
             UNION SELECT assignee_id FROM tasks WHERE incident_id = $1 AND assignee_id IS NOT NULL) \
         ORDER BY lower(u.display_name), u.email",
    )
    .bind::<BigInt, _>(incident)
    .load(conn)
    .await
}

/// Accounts with these addresses (lower case), to link invitees to people.
pub async fn users_by_email(conn: &mut AsyncPgConnection, emails: &[String]) -> QueryResult<Vec<(UserId, String)>> {
    use super::schema::users;
    users::table
        .filter(super::lower(users::email).eq_any(emails))
        .select((users::id, super::lower(users::email)))
        .load(conn)
        .await
}
