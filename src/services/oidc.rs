//! Talking to the OpenID Connect provider: discovery (cached), the authorization
//! URL with PKCE (S256), state and nonce, the code exchange and every check on the
//! ID token. All protocol and token checks are done by the `openidconnect` crate;
//! this module only chooses its settings and caches the provider's metadata and
//! keys (refetched when a token names a key we do not know).

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, JsonWebKeySet,
    LogoutRequest, Nonce, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, StandardErrorResponse, StandardTokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::sign_in::OidcSettings;
use crate::domain::sso::{ProviderIdentity, RoleMapping};

/// Every claim of the ID token besides the standard ones (groups live here).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for OtherClaims {}

type IdTokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type OidcClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    IdTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long discovered metadata is used before it is fetched again.
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);
/// After a failed fetch, callers are told "unreachable" without another try for this long,
/// so anonymous visitors cannot make us hammer the provider.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// The least time between two key refetches prompted by an unknown key id.
const KEYS_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Clock difference tolerated between us and the provider.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// An ID token issued longer ago than this is refused.
const MAX_TOKEN_AGE: chrono::Duration = chrono::Duration::minutes(10);
/// Only asymmetric signatures: HMAC would make the client secret a signing key.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why talking to the provider did not give us a person.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Could not reach the provider, or it answered something unreadable.
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// The provider refused the code, or the ID token failed a check.
    #[error("{0}")]
    Rejected(String),
}

/// What the browser is sent to the provider with, and what must be kept to finish.
pub struct AuthorizationStart {
    pub url: url::Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

struct Cached {
    metadata: ProviderMetadataWithLogout,
    fetched_at: Instant,
    /// When an unknown key id last made us fetch the keys again.
    keys_refetched_at: Option<Instant>,
}

#[derive(Default)]
struct CacheState {
    cached: Option<Cached>,
    failed_at: Option<Instant>,
}

/// One configured provider, shared by every worker of this instance.
pub struct OidcProvider {
    settings: OidcSettings,
    redirect_url: RedirectUrl,
    post_logout_url: PostLogoutRedirectUrl,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<CacheState>,
}

impl OidcProvider {
    /// `base_url` is where people reach Firebreak; the provider sends them back to
    /// `<base_url>/login/oidc/callback`.
    pub fn new(settings: OidcSettings, base_url: &url::Url) -> anyhow::Result<Self> {
        let redirect = base_url.join("/login/oidc/callback")?;
        let after_logout = base_url.join("/login")?;
        let http = reqwest::Client::builder()
            // Never follow redirects (SSRF), never wait long (the person is waiting).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(OidcProvider {
            settings,
            redirect_url: RedirectUrl::from_url(redirect),
            post_logout_url: PostLogoutRedirectUrl::from_url(after_logout),
            http,
            cache: tokio::sync::Mutex::new(CacheState::default()),
        })
    }

    pub fn name(&self) -> &str {
        &self.settings.provider_name
    }

    pub fn roles(&self) -> &RoleMapping {
        &self.settings.roles
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The provider's metadata, discovered now when missing or old.
    async fn metadata(&self) -> Result<ProviderMetadataWithLogout, OidcError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.cached.as_ref().filter(|c| c.fetched_at.elapsed() < METADATA_MAX_AGE) {
            return Ok(c.metadata.clone());
        }
        if cache.failed_at.is_some_and(|failed| failed.elapsed() < RETRY_AFTER_FAILURE) {
            return match &cache.cached {
                Some(c) => Ok(c.metadata.clone()),
                None => Err(OidcError::Unreachable("discovery failed moments ago".into())),
            };
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| OidcError::Unreachable(e.to_string()))?;
        match ProviderMetadataWithLogout::discover_async(issuer, &self.http).await {
            Ok(metadata) => {
                cache.cached =
                    Some(Cached { metadata: metadata.clone(), fetched_at: Instant::now(), keys_refetched_at: None });
                cache.failed_at = None;
                Ok(metadata)
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "OpenID Connect discovery failed");
                cache.failed_at = Some(Instant::now());
                match &cache.cached {
                    // Keep using what worked until the provider is back.
                    Some(c) => Ok(c.metadata.clone()),
                    None => Err(OidcError::Unreachable(error_chain(&e))),
                }
            }
        }
    }

    /// Fetches the provider's keys again (a token named a key we do not have), at
    /// most once per `KEYS_MIN_INTERVAL`; returns the metadata with the new keys.
    async fn refetch_keys(&self) -> Result<Option<ProviderMetadataWithLogout>, OidcError> {
        let mut cache = self.cache.lock().await;
        let Some(cached) = cache.cached.as_mut() else { return Ok(None) };
        if cached.keys_refetched_at.is_some_and(|at| at.elapsed() < KEYS_MIN_INTERVAL) {
            return Ok(None);
        }
        cached.keys_refetched_at = Some(Instant::now());
        let keys = JsonWebKeySet::fetch_async(cached.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| OidcError::Unreachable(error_chain(&e)))?;
        cached.metadata = cached.metadata.clone().set_jwks(keys);
        Ok(Some(cached.metadata.clone()))
    }

    fn client(&self, metadata: ProviderMetadataWithLogout) -> OidcClient {
        let secret = self.settings.client_secret.as_ref().map(|s| ClientSecret::new(s.expose_secret().to_owned()));
        OidcClient::from_provider_metadata(metadata, ClientId::new(self.settings.client_id.clone()), secret)
            .set_redirect_uri(self.redirect_url.clone())
    }

    /// Where to send the browser to sign in, with fresh state, nonce and PKCE verifier.
    pub async fn begin(&self) -> Result<AuthorizationStart, OidcError> {
        let client = self.client(self.metadata().await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(AuthorizationStart {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and checks the ID token; returns who the provider says this is.
    pub async fn finish(&self, code: &str, nonce: &str, pkce_verifier: &str) -> Result<ProviderIdentity, OidcError> {
        let metadata = self.metadata().await?;
        let client = self.client(metadata);
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unreachable(format!("the provider has no token endpoint: {e}")))?;
        let response = request
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    OidcError::Rejected(format!("the token endpoint refused the code: {}", r.error()))
                }
                RequestTokenError::Parse(e, _) => {
                    OidcError::Rejected(format!("the token endpoint's answer is unreadable: {e}"))
                }
                other => OidcError::Unreachable(error_chain(&other)),
            })?;
        let id_token = response
            .extra_fields()
            .id_token()
            .ok_or_else(|| OidcError::Rejected("the token endpoint sent no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match id_token.claims(&self.verifier(&client), &nonce) {
            Ok(claims) => claims.clone(),
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // The provider may have rotated its keys since we fetched them.
                let Some(metadata) = self.refetch_keys().await? else {
                    return Err(OidcError::Rejected("the ID token is signed with an unknown key".into()));
                };
                let client = self.client(metadata);
                id_token.claims(&self.verifier(&client), &nonce).map_err(rejected)?.clone()
            }
            Err(e) => return Err(rejected(e)),
        };
        // With several audiences the crate refuses any we do not trust; azp, when
        // present, must name us.
        if let Some(azp) = claims.authorized_party().filter(|azp| azp.as_str() != self.settings.client_id) {
            return Err(OidcError::Rejected(format!("the ID token was issued to another party ({})", azp.as_str())));
        }
        let groups = match &self.settings.roles.groups_claim {
            Some(name) => RoleMapping::groups_in(claims.additional_claims().claims.get(name)),
            None => Vec::new(),
        };
        Ok(ProviderIdentity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().trim().to_lowercase()),
            email_verified: crate::domain::sso::email_verified(
                claims.email_verified(),
                claims.additional_claims().claims.get("xms_edov"),
            ),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
            groups,
        })
    }

    fn verifier<'a>(&self, client: &'a OidcClient) -> openidconnect::IdTokenVerifier<'a, CoreJsonWebKey> {
        client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            .require_issuer_match(true)
            .require_audience_match(true)
            // The expiry check compares with this clock: a little behind tolerates skew.
            .set_time_fn(|| chrono::Utc::now() - CLOCK_SKEW)
            .set_issue_time_verifier_fn(|iat| {
                let now = chrono::Utc::now();
                if iat > now + CLOCK_SKEW {
                    Err(format!("the ID token was issued in the future ({iat})"))
                } else if iat < now - MAX_TOKEN_AGE {
                    Err(format!("the ID token was issued too long ago ({iat})"))
                } else {
                    Ok(())
                }
            })
    }

    /// The provider's end-session URL that brings the browser back to our sign-in
    /// page, when the provider offers RP-initiated logout. Uses cached metadata only:
    /// signing out never waits for the provider.
    pub async fn end_session_url(&self) -> Option<url::Url> {
        let cache = self.cache.lock().await;
        let endpoint = cache.cached.as_ref()?.metadata.additional_metadata().end_session_endpoint.clone()?;
        Some(
            LogoutRequest::from(endpoint)
                .set_client_id(ClientId::new(self.settings.client_id.clone()))
                .set_post_logout_redirect_uri(self.post_logout_url.clone())
                .http_get_url(),
        )
    }

    /// The origin forms may be submitted to besides our own (the provider's), for
    /// the Content-Security-Policy: signing in and out end in a redirect there.
    pub fn form_origin(settings: &OidcSettings) -> Option<String> {
        let url = url::Url::parse(&settings.issuer).ok()?;
        Some(url.origin().ascii_serialization())
    }
}

fn rejected(e: ClaimsVerificationError) -> OidcError {
    OidcError::Rejected(match e {
        ClaimsVerificationError::SignatureVerification(inner) => format!("signature check failed: {inner}"),
        other => other.to_string(),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
