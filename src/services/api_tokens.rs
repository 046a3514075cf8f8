//! API tokens: create (shown once), revoke, and resolve a bearer token to an actor.
//!
//! A token is `fbk_` followed by 32 random bytes (base64url). Only its SHA-256
//! is stored; its first characters (`prefix`) help recognise it in lists. Each
//! token acts as its own service user ("API: <name>"), so incidents it
//! declares, notes it writes and audit entries name it like a person.

use chrono::Utc;
use diesel_async::AsyncConnection;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use super::components::{one_line, require_admin};
use super::{Actor, FieldErrors, ServiceError, audit, passwords};
use crate::db::DbPool;
use crate::db::api_tokens::{self, ApiToken, NewApiToken, NewServiceUser};
use crate::db::ids::ApiTokenId;
use crate::domain::Role;

/// What every token starts with (so secret scanners and people recognise it).
pub const TOKEN_PREFIX: &str = "fbk_";
/// How many leading characters of a token lists show.
const SHOWN_CHARS: usize = 12;

/// The raw values of the new-token form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct TokenInput {
    pub name: String,
    pub role: String,
}

/// A new token: the row, and the secret, which exists nowhere else and is
/// shown once.
#[derive(Debug)]
pub struct Created {
    pub token: ApiToken,
    pub secret: String,
}

/// The SHA-256 of a token, in lower-case hex, as stored.
pub fn hash_token(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn new_secret() -> String {
    format!("{TOKEN_PREFIX}{}", crate::domain::tokens::url_safe(32))
}

fn random_hex(n: usize) -> String {
    crate::domain::tokens::hex(n)
}

/// Creates a token and the service user it acts as.
pub async fn create(pool: &DbPool, actor: &Actor, input: &TokenInput) -> Result<Created, ServiceError> {
    require_admin(actor)?;
    let mut errors = FieldErrors::new();
    let name = errors.check("name", one_line(&input.name, "name", 80)).unwrap_or_default();
    if name.is_empty() && errors.get("name").is_none() {
        errors.add("name", "Name the token after what uses it, e.g. \"deploy pipeline\".");
    }
    let role = errors.check("role", input.role.parse::<Role>());
    let (Some(role), true) = (role, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };

    let secret = new_secret();
    let hash = hash_token(&secret);
    let prefix: String = secret.chars().take(SHOWN_CHARS).collect();
    // A password nobody knows (sign-in refuses service users anyway); a real
    // hash so that nothing that checks passwords ever trips over it.
    let unusable = passwords::hash(SecretString::from(new_secret())).await?;
    let email = format!("api-token-{}@tokens.invalid", random_hex(8));
    let display_name = format!("API: {name}");

    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let user_id = api_tokens::insert_service_user(
            conn,
            &NewServiceUser {
                email: &email,
                display_name: &display_name,
                password_hash: &unusable,
                role: role.as_str(),
                is_service: true,
            },
        )
        .await?;
        let token = api_tokens::insert(
            conn,
            &NewApiToken {
                name: &name,
                prefix: &prefix,
                token_hash: &hash,
                role: role.as_str(),
                user_id,
                created_by: actor.id,
            },
        )
        .await?;
        audit(conn, actor, "api_token.create", &token.name, &format!("role {}, {}…", role.as_str(), token.prefix))
            .await?;
        Ok(Created { token, secret })
    })
    .await
}

/// Revokes a token: it stops working at once, its user is disabled. Revoking
/// a revoked token changes nothing.
pub async fn revoke(pool: &DbPool, actor: &Actor, id: ApiTokenId) -> Result<ApiToken, ServiceError> {
    require_admin(actor)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction(async |conn| {
        let token = api_tokens::find_for_update(conn, id).await?.ok_or(ServiceError::NotFound)?;
        if token.is_revoked() {
            return Ok(token);
        }
        let token = api_tokens::revoke(conn, id, now).await?;
        audit(conn, actor, "api_token.revoke", &token.name, &format!("{}…", token.prefix)).await?;
        Ok(token)
    })
    .await
}

/// The actor a bearer token stands for, or `None` for an unknown, revoked or
/// disabled one. Records when the token was last used (at most once a minute).
pub async fn authenticate(
    pool: &DbPool,
    secret: &str,
    client_addr: Option<String>,
) -> Result<Option<(ApiToken, Actor)>, ServiceError> {
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let hash = hash_token(secret);
    let mut conn = pool.get().await?;
    let Some(token) = api_tokens::find_active_by_hash(&mut conn, &hash).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    if token.last_used_at.is_none_or(|t| now - t >= chrono::Duration::minutes(1)) {
        api_tokens::touch(&mut conn, token.id, now).await?;
    }
    let actor = Actor { id: Some(token.user_id), role: token.role(), client_addr };
    Ok(Some((token, actor)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_prefixed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("fbk_"));
        // 32 bytes of base64url without padding.
        assert_eq!(a.len(), 4 + 43);
    }

    #[test]
    fn the_stored_hash_is_sha256_hex() {
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
