//! How people are reached: `contact_methods` (email, ntfy topic, signed
//! webhook, Slack-compatible webhook; each verified by a code before use) and
//! `notification_rules` (which method, after how many minutes).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::pages::{NewNotification, Page};
use super::schema::{contact_methods, notification_rules};
use super::{ContactMethodId, PageId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = contact_methods)]
pub struct ContactMethod {
    pub id: ContactMethodId,
    pub user_id: UserId,
    pub kind: String,
    pub label: String,
    pub address: String,
    pub verify_code_hash: Option<String>,
    pub verify_attempts: i32,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The HMAC key of a signed webhook (none for other kinds).
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notification_rules)]
pub struct Rule {
    pub id: i64,
    pub user_id: UserId,
    pub contact_method_id: ContactMethodId,
    pub delay_minutes: i32,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    user: UserId,
    kind: &str,
    label: &str,
    address: &str,
    code_hash: &str,
    signing_secret: Option<&str>,
) -> QueryResult<ContactMethod> {
    diesel::insert_into(contact_methods::table)
        .values((
            contact_methods::user_id.eq(user),
            contact_methods::kind.eq(kind),
            contact_methods::label.eq(label),
            contact_methods::address.eq(address),
            contact_methods::verify_code_hash.eq(code_hash),
            contact_methods::signing_secret.eq(signing_secret),
        ))
        .returning(ContactMethod::as_returning())
        .get_result(conn)
        .await
}

pub async fn for_user(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<Vec<ContactMethod>> {
    contact_methods::table
        .filter(contact_methods::user_id.eq(user))
        .order(contact_methods::id.asc())
        .select(ContactMethod::as_select())
        .load(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: ContactMethodId) -> QueryResult<Option<ContactMethod>> {
    contact_methods::table.find(id).select(ContactMethod::as_select()).first(conn).await.optional()
}

/// One more wrong code.
pub async fn count_attempt(conn: &mut AsyncPgConnection, id: ContactMethodId) -> QueryResult<()> {
    diesel::update(contact_methods::table.find(id))
        .set(contact_methods::verify_attempts.eq(contact_methods::verify_attempts + 1))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_verified(conn: &mut AsyncPgConnection, id: ContactMethodId, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(contact_methods::table.find(id))
        .set((contact_methods::verified_at.eq(at), contact_methods::verify_code_hash.eq(None::<String>)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut AsyncPgConnection, user: UserId, id: ContactMethodId) -> QueryResult<bool> {
    let n = diesel::delete(
        contact_methods::table.filter(contact_methods::id.eq(id)).filter(contact_methods::user_id.eq(user)),
    )
    .execute(conn)
    .await?;
    Ok(n > 0)
}

pub async fn rules_for(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<Vec<Rule>> {
    notification_rules::table
        .filter(notification_rules::user_id.eq(user))
        .order((notification_rules::delay_minutes.asc(), notification_rules::id.asc()))
        .select(Rule::as_select())
        .load(conn)
        .await
}

pub async fn insert_rule(
    conn: &mut AsyncPgConnection,
    user: UserId,
    method: ContactMethodId,
    delay_minutes: i32,
) -> QueryResult<()> {
    diesel::insert_into(notification_rules::table)
        .values((
            notification_rules::user_id.eq(user),
            notification_rules::contact_method_id.eq(method),
            notification_rules::delay_minutes.eq(delay_minutes),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_rule(conn: &mut AsyncPgConnection, user: UserId, id: i64) -> QueryResult<bool> {
    let n = diesel::delete(
        notification_rules::table.filter(notification_rules::id.eq(id)).filter(notification_rules::user_id.eq(user)),
    )
    .execute(conn)
    .await?;
    Ok(n > 0)
}

/// The messages one step of a page sends one person: one per notification
/// rule on a verified method, due after the rule's delay; with no such rule,
/// one to their account email at once.
pub async fn notifications_for(
    conn: &mut AsyncPgConnection,
    page_id: PageId,
    page: &Page,
    user: UserId,
    now: DateTime<Utc>,
    minute: chrono::Duration,
) -> QueryResult<Vec<NewNotification>> {
    let rules: Vec<(ContactMethodId, i32)> = notification_rules::table
        .inner_join(contact_methods::table)
        .filter(notification_rules::user_id.eq(user))
        .filter(contact_methods::verified_at.is_not_null())
        .select((contact_methods::id, notification_rules::delay_minutes))
        .load(conn)
        .await?;
    if rules.is_empty() {
        return Ok(vec![NewNotification {
            page_id,
            step: page.step,
            repeat: page.repeat,
            user_id: user,
            contact_method_id: None,
            channel: format!("user:{user}"),
            due_at: now,
        }]);
    }
    Ok(rules
        .into_iter()
        .map(|(method, delay)| NewNotification {
            page_id,
            step: page.step,
            repeat: page.repeat,
            user_id: user,
            contact_method_id: Some(method),
            channel: format!("cm:{method}"),
            due_at: now + minute * delay,
        })
        .collect())
}
