//! Creating and managing people: the first admin, users added by admins or
//! the command line, roles, disabling, passwords and time zones. Every change
//! made by someone else is written to the audit log in the same transaction.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use secrecy::SecretString;

use super::{Actor, FieldErrors, ServiceError, audit, passwords};
use crate::db::users::{self, NewUser, User, UserChanges};
use crate::db::{DbPool, SessionId, UserId, sessions, sign_in_failures};
use crate::domain::{DisplayName, EmailAddress, NewPassword, Role, TimeZoneName};

/// The raw values of a "new user" form or command.
#[derive(Debug, Default, Clone)]
pub struct NewUserInput {
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub password: String,
    pub time_zone: String,
}

struct ParsedUser {
    email: EmailAddress,
    display_name: DisplayName,
    role: Role,
    password: NewPassword,
    time_zone: TimeZoneName,
}

fn parse_new_user(input: &NewUserInput) -> Result<ParsedUser, ServiceError> {
    let mut errors = FieldErrors::new();
    let email = errors.check("email", EmailAddress::parse(&input.email));
    let display_name = errors.check("display_name", DisplayName::parse(&input.display_name));
    let role = errors.check("role", input.role.parse::<Role>());
    let password = errors.check("password", NewPassword::parse(&input.password));
    let tz_input = if input.time_zone.trim().is_empty() { "UTC" } else { &input.time_zone };
    let time_zone = errors.check("time_zone", TimeZoneName::parse(tz_input));
    match (email, display_name, role, password, time_zone) {
        (Some(email), Some(display_name), Some(role), Some(password), Some(time_zone)) if errors.is_empty() => {
            Ok(ParsedUser { email, display_name, role, password, time_zone })
        }
        _ => Err(ServiceError::Invalid(errors)),
    }
}

const EMAIL_TAKEN: &str = "Someone already signs in with this email address.";

async fn insert_user(conn: &mut AsyncPgConnection, parsed: &ParsedUser, hash: &str) -> Result<User, ServiceError> {
    if users::find_by_email(conn, parsed.email.as_str()).await?.is_some() {
        return Err(ServiceError::Invalid(FieldErrors::single("email", EMAIL_TAKEN)));
    }
    let user = users::insert(
        conn,
        &NewUser {
            email: parsed.email.as_str(),
            display_name: parsed.display_name.as_str(),
            password_hash: hash,
            role: parsed.role.as_str(),
            time_zone: parsed.time_zone.as_str(),
        },
    )
    .await?;
    Ok(user)
}

/// Creates the first admin. Refused (as not found) once any user exists, even
/// when two people submit the setup form at the same moment.
pub async fn create_first_admin(
    pool: &DbPool,
    mut input: NewUserInput,
    client_addr: Option<String>,
) -> Result<User, ServiceError> {
    input.role = Role::Admin.as_str().to_owned();
    let parsed = parse_new_user(&input)?;
    let hash = passwords::hash(SecretString::from(parsed.password.expose().to_owned())).await?;
    let actor = Actor { id: None, role: Role::Admin, client_addr };
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        // Serialises concurrent setups; the second one then sees the first's user.
        diesel::sql_query("LOCK TABLE users IN EXCLUSIVE MODE").execute(conn).await?;
        if users::any_exist(conn).await? {
            return Err(ServiceError::NotFound);
        }
        let user = insert_user(conn, &parsed, &hash).await?;
        audit(conn, &Actor { id: Some(user.id), ..actor.clone() }, "setup.first_admin", &user.email, "").await?;
        Ok(user)
    })
    .await
}

/// An admin (or the command line) adds someone.
pub async fn add_user(pool: &DbPool, actor: &Actor, input: NewUserInput) -> Result<User, ServiceError> {
    if !actor.role.allows(Role::Admin) {
        return Err(ServiceError::Forbidden("only admins add users"));
    }
    let parsed = parse_new_user(&input)?;
    let hash = passwords::hash(SecretString::from(parsed.password.expose().to_owned())).await?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let user = insert_user(conn, &parsed, &hash).await?;
        audit(conn, actor, "user.add", &user.email, &format!("role {}", user.role)).await?;
        Ok(user)
    })
    .await
}

async fn load_for_admin(conn: &mut AsyncPgConnection, actor: &Actor, id: UserId) -> Result<User, ServiceError> {
    if !actor.role.allows(Role::Admin) {
        return Err(ServiceError::Forbidden("only admins manage users"));
    }
    users::find(conn, id).await?.ok_or(ServiceError::NotFound)
}

/// Refuses a change that would leave Firebreak without an active admin.
async fn keep_one_admin(conn: &mut AsyncPgConnection, target: &User, field: &'static str) -> Result<(), ServiceError> {
    if target.role() == Role::Admin && !target.disabled && users::count_active_admins(conn).await? <= 1 {
        return Err(ServiceError::Invalid(FieldErrors::single(
            field,
            "This is the only active admin: make someone else an admin first.",
        )));
    }
    Ok(())
}

pub async fn change_role(pool: &DbPool, actor: &Actor, id: UserId, role_input: &str) -> Result<User, ServiceError> {
    let role = role_input.parse::<Role>().map_err(|m| ServiceError::Invalid(FieldErrors::single("role", m)))?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        users::lock_admins(conn).await?;
        let target = load_for_admin(conn, actor, id).await?;
        if target.role() == role {
            return Ok(target);
        }
        if role != Role::Admin {
            keep_one_admin(conn, &target, "role").await?;
        }
        let user = users::update(
            conn,
            id,
            &UserChanges { role: Some(role.as_str()), updated_at: Some(Utc::now()), ..Default::default() },
        )
        .await?;
        audit(conn, actor, "user.role", &user.email, &format!("{} → {}", target.role, user.role)).await?;
        Ok(user)
    })
    .await
}

/// Disables or re-enables an account. Disabling ends every session of that
/// person at their next request.
pub async fn set_disabled(pool: &DbPool, actor: &Actor, id: UserId, disabled: bool) -> Result<User, ServiceError> {
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        users::lock_admins(conn).await?;
        let target = load_for_admin(conn, actor, id).await?;
        if disabled && actor.id == Some(id) {
            return Err(ServiceError::Invalid(FieldErrors::single("disabled", "You cannot disable your own account.")));
        }
        if disabled {
            keep_one_admin(conn, &target, "disabled").await?;
            sessions::end_all(conn, id, None).await?;
        }
        let user = users::update(
            conn,
            id,
            &UserChanges { disabled: Some(disabled), updated_at: Some(Utc::now()), ..Default::default() },
        )
        .await?;
        let action = if disabled { "user.disable" } else { "user.enable" };
        audit(conn, actor, action, &user.email, "").await?;
        Ok(user)
    })
    .await
}

/// An admin sets a new password for someone; their sessions end.
pub async fn reset_password(
    pool: &DbPool,
    actor: &Actor,
    id: UserId,
    new_password: &str,
) -> Result<User, ServiceError> {
    if !actor.role.allows(Role::Admin) {
        return Err(ServiceError::Forbidden("only admins reset passwords"));
    }
    let password =
        NewPassword::parse(new_password).map_err(|m| ServiceError::Invalid(FieldErrors::single("password", m)))?;
    let hash = passwords::hash(SecretString::from(password.expose().to_owned())).await?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let target = load_for_admin(conn, actor, id).await?;
        sessions::end_all(conn, id, None).await?;
        let user = users::update(
            conn,
            id,
            &UserChanges { password_hash: Some(&hash), updated_at: Some(Utc::now()), ..Default::default() },
        )
        .await?;
        sign_in_failures::clear_for_account(conn, &target.email, Utc::now()).await?;
        audit(conn, actor, "user.password_reset", &user.email, "").await?;
        Ok(user)
    })
    .await
}

/// Someone changes their own password after proving they know the current one.
/// Their other sessions end; `this_session` carries on.
pub async fn change_own_password(
    pool: &DbPool,
    actor: &Actor,
    this_session: SessionId,
    current: SecretString,
    new_password: &str,
    confirmation: &str,
) -> Result<(), ServiceError> {
    let id = actor.id.ok_or(ServiceError::Forbidden("sign in first"))?;
    let mut errors = FieldErrors::new();
    let password = errors.check("new_password", NewPassword::parse(new_password));
    if password.is_some() && new_password != confirmation {
        errors.add("confirm_password", "The two new passwords differ.");
    }
    let stored = {
        let mut conn = pool.get().await?;
        users::find(&mut conn, id).await?.ok_or(ServiceError::NotFound)?.password_hash
    };
    if !passwords::verify(current, Some(stored)).await.map_err(anyhow::Error::from)? {
        errors.add("current_password", "That is not your current password.");
    }
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let hash = passwords::hash(SecretString::from(password.expose().to_owned())).await?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        sessions::end_all(conn, id, Some(this_session)).await?;
        let user = users::update(
            conn,
            id,
            &UserChanges { password_hash: Some(&hash), updated_at: Some(Utc::now()), ..Default::default() },
        )
        .await?;
        audit(conn, actor, "account.password_change", &user.email, "").await?;
        Ok(())
    })
    .await
}

/// Someone ends every one of their sessions ("sign out everywhere").
pub async fn sign_out_everywhere(pool: &DbPool, actor: &Actor) -> Result<usize, ServiceError> {
    let id = actor.id.ok_or(ServiceError::Forbidden("sign in first"))?;
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let ended = sessions::end_all(conn, id, None).await?;
        let email = users::find(conn, id).await?.ok_or(ServiceError::NotFound)?.email;
        audit(conn, actor, "account.sign_out_everywhere", &email, &format!("{ended} sessions")).await?;
        Ok(ended)
    })
    .await
}

pub async fn set_time_zone(pool: &DbPool, actor: &Actor, tz_input: &str) -> Result<User, ServiceError> {
    let id = actor.id.ok_or(ServiceError::Forbidden("sign in first"))?;
    let tz = TimeZoneName::parse(tz_input).map_err(|m| ServiceError::Invalid(FieldErrors::single("time_zone", m)))?;
    let mut conn = pool.get().await?;
    let user = users::update(
        &mut conn,
        id,
        &UserChanges { time_zone: Some(tz.as_str()), updated_at: Some(Utc::now()), ..Default::default() },
    )
    .await?;
    Ok(user)
}
