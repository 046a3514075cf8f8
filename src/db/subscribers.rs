//! Status-page subscribers (double opt-in) and the components they follow.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{subscriber_components, subscribers};
use super::{ComponentId, SubscriberId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscribers)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub email: String,
    pub token: String,
    pub all_components: bool,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmation_sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The preferences link's token (good for nothing else).
    pub manage_token: String,
    /// Updates go to this URL instead of the address (once confirmed).
    pub webhook_url: Option<String>,
    /// The webhook made of `webhook_url` at confirmation.
    pub webhook_id: Option<crate::db::ids::WebhookId>,
}

/// The subscriber with this address (any case), locked for the caller's transaction.
pub async fn find_by_email_for_update(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<Subscriber>> {
    subscribers::table
        .filter(super::lower(subscribers::email).eq(email.to_lowercase()))
        .select(Subscriber::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_token(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<Option<Subscriber>> {
    subscribers::table.filter(subscribers::token.eq(token)).select(Subscriber::as_select()).first(conn).await.optional()
}

/// The confirmed subscriber whose preferences link carries this token.
pub async fn find_by_manage_token(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<Option<Subscriber>> {
    subscribers::table
        .filter(subscribers::manage_token.eq(token))
        .filter(subscribers::confirmed_at.is_not_null())
        .select(Subscriber::as_select())
        .first(conn)
        .await
        .optional()
}

/// The components a subscriber chose (meaningful when not following all).
pub async fn components_of(conn: &mut AsyncPgConnection, id: SubscriberId) -> QueryResult<Vec<ComponentId>> {
    subscriber_components::table
        .filter(subscriber_components::subscriber_id.eq(id))
        .select(subscriber_components::component_id)
        .load(conn)
        .await
}

/// Inserts a subscriber, or does nothing when the address raced in first
/// (returns `None` then).
pub async fn insert(
    conn: &mut AsyncPgConnection,
    email: &str,
    token: &str,
    all_components: bool,
    webhook_url: Option<&str>,
) -> QueryResult<Option<Subscriber>> {
    diesel::insert_into(subscribers::table)
        .values((
            subscribers::email.eq(email),
            subscribers::token.eq(token),
            subscribers::all_components.eq(all_components),
            subscribers::webhook_url.eq(webhook_url),
        ))
        .on_conflict_do_nothing()
        .returning(Subscriber::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Replaces the components a subscriber follows.
pub async fn set_components(
    conn: &mut AsyncPgConnection,
    id: SubscriberId,
    all: bool,
    components: &[ComponentId],
) -> QueryResult<()> {
    diesel::update(subscribers::table.find(id)).set(subscribers::all_components.eq(all)).execute(conn).await?;
    diesel::delete(subscriber_components::table.filter(subscriber_components::subscriber_id.eq(id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = components
        .iter()
        .map(|c| (subscriber_components::subscriber_id.eq(id), subscriber_components::component_id.eq(*c)))
        .collect();
    diesel::insert_into(subscriber_components::table).values(rows).on_conflict_do_nothing().execute(conn).await?;
    Ok(())
}

pub async fn mark_confirmation_sent(
    conn: &mut AsyncPgConnection,
    id: SubscriberId,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(subscribers::table.find(id)).set(subscribers::confirmation_sent_at.eq(at)).execute(conn).await?;
    Ok(())
}

/// Confirms the subscription with this token; returns it, or `None` for an unknown token.
pub async fn confirm(conn: &mut AsyncPgConnection, token: &str, at: DateTime<Utc>) -> QueryResult<Option<Subscriber>> {
    diesel::update(subscribers::table.filter(subscribers::token.eq(token)).filter(subscribers::confirmed_at.is_null()))
        .set(subscribers::confirmed_at.eq(at))
        .execute(conn)
        .await?;
    find_by_token(conn, token).await
}

/// Removes the subscription with this token; whether there was one.
pub async fn delete_by_token(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<bool> {
    Ok(diesel::delete(subscribers::table.filter(subscribers::token.eq(token))).execute(conn).await? > 0)
}

/// How many confirmed subscribers follow all components or any of these.
pub async fn count_confirmed_for_components(
    conn: &mut AsyncPgConnection,
    components: &[ComponentId],
) -> QueryResult<i64> {
    let chosen = subscriber_components::table
        .filter(subscriber_components::component_id.eq_any(components.to_vec()))
        .select(subscriber_components::subscriber_id);
    subscribers::table
        .filter(subscribers::confirmed_at.is_not_null())
        .filter(subscribers::all_components.or(subscribers::id.eq_any(chosen)))
        .count()
        .get_result(conn)
        .await
}

/// Confirmed subscribers who follow all components or any of these.
pub async fn confirmed_for_components(
    conn: &mut AsyncPgConnection,
    components: &[ComponentId],
) -> QueryResult<Vec<Subscriber>> {
    let chosen = subscriber_components::table
        .filter(subscriber_components::component_id.eq_any(components.to_vec()))
        .select(subscriber_components::subscriber_id);
    subscribers::table
        .filter(subscribers::confirmed_at.is_not_null())
        .filter(subscribers::all_components.or(subscribers::id.eq_any(chosen)))
        .order(subscribers::id.asc())
        .select(Subscriber::as_select())
        .load(conn)
        .await
}

/// Sets where an unconfirmed subscription will deliver (a URL, or email).
pub async fn set_webhook_url(conn: &mut AsyncPgConnection, id: SubscriberId, url: Option<&str>) -> QueryResult<()> {
    diesel::update(subscribers::table.find(id)).set(subscribers::webhook_url.eq(url)).execute(conn).await?;
    Ok(())
}

/// Links the webhook made for a subscriber at confirmation.
pub async fn set_webhook(
    conn: &mut AsyncPgConnection,
    id: SubscriberId,
    webhook: crate::db::ids::WebhookId,
) -> QueryResult<()> {
    diesel::update(subscribers::table.find(id)).set(subscribers::webhook_id.eq(webhook)).execute(conn).await?;
    Ok(())
}
