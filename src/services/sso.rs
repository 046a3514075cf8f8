//! Signing in through the identity provider, after its ID token passed every
//! check: find the account (by the provider's subject once linked, by verified
//! email the first time), create it just in time, map groups to roles, and write
//! the audit log. Also the sign-ins in progress and the record of refusals.

use base64::Engine;
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rand::RngCore;

use super::{Actor, ServiceError, audit};
use crate::db::users::{self, NewUser, User, UserChanges};
use crate::db::{DbPool, oidc};
use crate::domain::sso::{ProviderIdentity, RoleMapping, SsoRefusal};
use crate::domain::{DisplayName, EmailAddress, Role};

pub use crate::db::oidc::PendingSignIn;

/// A sign-in must come back from the provider within this time.
pub const PENDING_MAX_AGE: chrono::Duration = chrono::Duration::minutes(10);
/// Sign-ins in progress at once; beyond it new ones are refused (anonymous
/// visitors cannot fill the table).
pub const MAX_PENDING: i64 = 10_000;

/// Remembers a sign-in in progress. `false` when too many are in progress.
pub async fn start_pending(pool: &DbPool, pending: &PendingSignIn) -> Result<bool, ServiceError> {
    let mut conn = pool.get().await?;
    let remaining = oidc::prune_pending(&mut conn, Utc::now() - PENDING_MAX_AGE).await?;
    if remaining >= MAX_PENDING {
        return Ok(false);
    }
    oidc::insert_pending(&mut conn, pending).await?;
    Ok(true)
}

/// Takes (and so ends) the sign-in in progress with this id hash.
pub async fn take_pending(pool: &DbPool, id_hash: &[u8]) -> Result<Option<PendingSignIn>, ServiceError> {
    let mut conn = pool.get().await?;
    Ok(oidc::take_pending(&mut conn, id_hash, Utc::now() - PENDING_MAX_AGE).await?)
}

/// Writes a refused sign-in to the audit log. `who` names the person when known.
pub async fn record_refusal(
    pool: &DbPool,
    refusal: SsoRefusal,
    who: &str,
    why: &str,
    client_addr: &str,
) -> Result<(), ServiceError> {
    let mut conn = pool.get().await?;
    let actor = Actor { id: None, role: Role::Viewer, client_addr: Some(client_addr.to_owned()) };
    refuse(&mut conn, &actor, refusal, who, why).await?;
    Ok(())
}

async fn refuse(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    refusal: SsoRefusal,
    who: &str,
    why: &str,
) -> diesel::QueryResult<SsoRefusal> {
    let detail = if why.is_empty() { refusal.code().to_owned() } else { format!("{}: {why}", refusal.code()) };
    audit(conn, actor, "sso.refused", who, &detail).await?;
    tracing::info!(refusal = refusal.code(), why, "sign-in through the identity provider refused");
    Ok(refusal)
}

/// A password hash nobody can match: the PHC form of argon2id with random salt and
/// random output, so an account made through the provider has no usable password
/// (until an admin sets one) while password sign-in still treats it like any other.
fn unusable_password_hash() -> String {
    let mut salt = [0u8; 16];
    let mut output = [0u8; 32];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut output);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    format!("$argon2id$v=19$m=19456,t=2,p=1${}${}", b64.encode(salt), b64.encode(output))
}

/// Signs in the person the provider vouched for, in one transaction: the account
/// (created, linked or updated) and its audit entries, or only the refusal's.
pub async fn sign_in(
    pool: &DbPool,
    identity: &ProviderIdentity,
    roles: &RoleMapping,
    client_addr: &str,
) -> Result<Result<User, SsoRefusal>, ServiceError> {
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| sign_in_in(conn, identity, roles, client_addr).await).await
}

async fn sign_in_in(
    conn: &mut AsyncPgConnection,
    identity: &ProviderIdentity,
    roles: &RoleMapping,
    client_addr: &str,
) -> Result<Result<User, SsoRefusal>, ServiceError> {
    let who = identity.email.clone().unwrap_or_else(|| format!("subject {}", identity.subject));
    let anonymous = Actor { id: None, role: Role::Viewer, client_addr: Some(client_addr.to_owned()) };
    let mapped = roles.role_for(&identity.groups);

    let (user, created) = match oidc::find_linked(conn, &identity.issuer, &identity.subject).await? {
        Some(user) => (user, false),
        None => {
            let email = match (&identity.email, identity.email_verified) {
                (Some(email), true) => EmailAddress::parse(email).ok(),
                _ => None,
            };
            let Some(email) = email else {
                let why = match &identity.email {
                    None => "the provider sent no email address".to_owned(),
                    Some(_) if !identity.email_verified => "the provider says the email is not verified".to_owned(),
                    Some(e) => format!("{e:?} is not an email address"),
                };
                return Ok(Err(refuse(conn, &anonymous, SsoRefusal::EmailUnverified, &who, &why).await?));
            };
            match users::find_by_email(conn, email.as_str()).await? {
                Some(user) if user.is_service => {
                    // API tokens' users never sign in.
                    let why = "the email belongs to an API token";
                    return Ok(Err(refuse(conn, &anonymous, SsoRefusal::LinkedElsewhere, &who, why).await?));
                }
                Some(user) => {
                    if let Some((issuer, _)) = oidc::link_of(conn, user.id).await? {
                        let why = format!("the account is linked to another identity at {issuer}");
                        let actor = Actor { id: Some(user.id), ..anonymous.clone() };
                        return Ok(Err(refuse(conn, &actor, SsoRefusal::LinkedElsewhere, &who, &why).await?));
                    }
                    if user.disabled {
                        let actor = Actor { id: Some(user.id), ..anonymous.clone() };
                        let why = "the account is disabled";
                        return Ok(Err(refuse(conn, &actor, SsoRefusal::AccountDisabled, &who, why).await?));
                    }
                    oidc::link(conn, user.id, &identity.issuer, &identity.subject).await?;
                    let actor = Actor { id: Some(user.id), role: user.role(), ..anonymous.clone() };
                    let detail = format!("subject {} at {}", identity.subject, identity.issuer);
                    audit(conn, &actor, "sso.linked", &user.email, &detail).await?;
                    (user, false)
                }
                None => {
                    let name = identity
                        .name
                        .as_deref()
                        .and_then(|n| DisplayName::parse(n).ok())
                        .or_else(|| DisplayName::parse(email.as_str().split('@').next().unwrap_or_default()).ok());
                    let name = match name {
                        Some(n) => n,
                        None => DisplayName::parse("New user").map_err(|e| anyhow::anyhow!(e))?,
                    };
                    let role = mapped.unwrap_or(roles.default_role);
                    let hash = unusable_password_hash();
                    let user = users::insert(
                        conn,
                        &NewUser {
                            email: email.as_str(),
                            display_name: name.as_str(),
                            password_hash: &hash,
                            role: role.as_str(),
                            time_zone: "UTC",
                        },
                    )
                    .await?;
                    oidc::link(conn, user.id, &identity.issuer, &identity.subject).await?;
                    let actor = Actor { id: Some(user.id), role, ..anonymous.clone() };
                    let detail = format!("role {}; subject {} at {}", role.as_str(), identity.subject, identity.issuer);
                    audit(conn, &actor, "sso.account_created", &user.email, &detail).await?;
                    (user, true)
                }
            }
        }
    };

    let actor = Actor { id: Some(user.id), role: user.role(), client_addr: Some(client_addr.to_owned()) };
    if user.is_service {
        let why = "the identity is linked to an API token";
        return Ok(Err(refuse(conn, &actor, SsoRefusal::LinkedElsewhere, &user.email, why).await?));
    }
    if user.disabled {
        // Whatever the provider says, a disabled account stays disabled.
        return Ok(Err(
            refuse(conn, &actor, SsoRefusal::AccountDisabled, &user.email, "the account is disabled").await?
        ));
    }
    let keeps_last_admin = user.role() == Role::Admin && users::count_active_admins(conn).await? <= 1;
    let user = match mapped {
        Some(role) if !created && role != user.role() && keeps_last_admin => {
            // Firebreak keeps at least one active admin, whatever the groups say.
            let detail = format!("stays admin, the only active one (groups: {})", identity.groups.join(", "));
            audit(conn, &actor, "sso.role_kept", &user.email, &detail).await?;
            user
        }
        Some(role) if !created && role != user.role() => {
            let changed = users::update(
                conn,
                user.id,
                &UserChanges { role: Some(role.as_str()), updated_at: Some(Utc::now()), ..Default::default() },
            )
            .await?;
            let detail = format!("{} to {} (groups: {})", user.role, role.as_str(), identity.groups.join(", "));
            audit(conn, &actor, "sso.role_changed", &user.email, &detail).await?;
            changed
        }
        _ => user,
    };
    let actor = Actor { role: user.role(), ..actor };
    let detail = format!("subject {} at {}", identity.subject, identity.issuer);
    audit(conn, &actor, "sso.sign_in", &user.email, &detail).await?;
    Ok(Ok(user))
}

#[cfg(test)]
mod tests {
    use super::unusable_password_hash;

    #[test]
    fn accounts_made_through_the_provider_have_a_readable_but_unmatchable_hash() {
        let a = unusable_password_hash();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, unusable_password_hash());
        assert!(argon2::password_hash::phc::PasswordHash::new(&a).is_ok());
    }
}
