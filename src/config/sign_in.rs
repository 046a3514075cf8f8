//! How people sign in: passwords, an OpenID Connect provider, or both.

use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use super::{ConfigError, bad};
use crate::domain::Role;
use crate::domain::sso::RoleMapping;

#[derive(Debug, Args)]
pub struct SignInArgs {
    /// The OpenID Connect issuer URL (e.g. https://id.example.com/realms/main); enables
    /// "Sign in with <provider>". Discovery reads <issuer>/.well-known/openid-configuration.
    #[arg(long, env = "OIDC_ISSUER", global = true)]
    pub oidc_issuer: Option<String>,
    /// The client id Firebreak is registered with at the provider.
    #[arg(long, env = "OIDC_CLIENT_ID", global = true)]
    pub oidc_client_id: Option<String>,
    /// The client secret (leave unset for a public client; PKCE is always used).
    #[arg(long, env = "OIDC_CLIENT_SECRET", hide_env_values = true, global = true)]
    pub oidc_client_secret: Option<String>,
    /// Scopes to ask for, separated by spaces or commas ("openid" is always included).
    #[arg(long, env = "OIDC_SCOPES", default_value = "openid email profile", global = true)]
    pub oidc_scopes: String,
    /// The role of an account created at its first sign-in through the provider.
    #[arg(long, env = "OIDC_DEFAULT_ROLE", default_value = "viewer", global = true)]
    pub oidc_default_role: String,
    /// The ID-token claim that lists a person's groups (e.g. groups); unset: roles are not
    /// taken from the provider.
    #[arg(long, env = "OIDC_GROUPS_CLAIM", global = true)]
    pub oidc_groups_claim: Option<String>,
    /// Groups whose members are admins (comma-separated).
    #[arg(long, env = "OIDC_ADMIN_GROUPS", default_value = "", global = true)]
    pub oidc_admin_groups: String,
    /// Groups whose members are responders (comma-separated).
    #[arg(long, env = "OIDC_RESPONDER_GROUPS", default_value = "", global = true)]
    pub oidc_responder_groups: String,
    /// The name on the "Sign in with <name>" button (default: the issuer's host).
    #[arg(long, env = "OIDC_PROVIDER_NAME", global = true)]
    pub oidc_provider_name: Option<String>,
    /// false hides and refuses password sign-in (needs OIDC_ISSUER).
    #[arg(long, env = "PASSWORD_LOGIN", default_value = "true", global = true)]
    pub password_login: String,
    /// A session unused for this many minutes ends (default 12 hours).
    #[arg(long, env = "SESSION_IDLE_MINUTES", default_value = "720", global = true)]
    pub session_idle_minutes: String,
    /// A session ends this many hours after sign-in, however busy (default 14 days).
    #[arg(long, env = "SESSION_MAX_AGE_HOURS", default_value = "336", global = true)]
    pub session_max_age_hours: String,
}

/// Checked sign-in settings.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    pub oidc: Option<OidcSettings>,
    /// Whether the password form is shown and accepted.
    pub password_login: bool,
    /// How long a session may go unused before it ends.
    pub session_idle: Duration,
    /// How long after sign-in a session ends, however busy.
    pub session_max_age: Duration,
}

impl Default for SignInSettings {
    fn default() -> Self {
        SignInSettings {
            oidc: None,
            password_login: true,
            session_idle: Duration::from_secs(720 * 60),
            session_max_age: Duration::from_secs(336 * 3600),
        }
    }
}

/// A whole number from 1 to `max`, in `unit_secs` seconds.
fn duration(
    value: &str,
    env: &'static str,
    flag: &'static str,
    unit_secs: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Duration::from_secs(n * unit_secs)),
        _ => Err(bad(env, flag, format!("is {value:?}: expected a whole number from 1 to {max}"))),
    }
}

#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Exactly as configured: the ID token's `iss` must equal it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// Besides "openid".
    pub scopes: Vec<String>,
    pub provider_name: String,
    pub roles: RoleMapping,
}

fn list(s: &str) -> Vec<String> {
    s.split([',', ' ', '\n', '\t']).map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect()
}

/// Groups may contain spaces ("Incident Responders"): split on commas only.
fn groups(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect()
}

fn parse_issuer(s: &str) -> Result<(String, url::Url), ConfigError> {
    let trimmed = s.trim();
    let url = url::Url::parse(trimmed)
        .map_err(|e| bad("OIDC_ISSUER", "oidc-issuer", format!("is {trimmed:?}, not a URL: {e}")))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("OIDC_ISSUER", "oidc-issuer", format!("is {trimmed:?}: it must be an https:// URL"))),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("OIDC_ISSUER", "oidc-issuer", "must not have a query or fragment"));
    }
    Ok((trimmed.to_owned(), url))
}

impl SignInSettings {
    pub fn from_args(args: &SignInArgs) -> Result<SignInSettings, ConfigError> {
        let password_login = match args.password_login.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            other => {
                return Err(bad("PASSWORD_LOGIN", "password-login", format!("is {other:?}: expected true or false")));
            }
        };
        let issuer = args.oidc_issuer.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let oidc = match issuer {
            None => None,
            Some(issuer) => {
                let (issuer, url) = parse_issuer(issuer)?;
                let client_id = args.oidc_client_id.as_deref().map(str::trim).unwrap_or_default();
                if client_id.is_empty() {
                    return Err(bad("OIDC_CLIENT_ID", "oidc-client-id", "must be set when OIDC_ISSUER is"));
                }
                let client_secret = args
                    .oidc_client_secret
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| SecretString::from(s.to_owned()));
                let scopes: Vec<String> = list(&args.oidc_scopes).into_iter().filter(|s| s != "openid").collect();
                let default_role = args
                    .oidc_default_role
                    .parse::<Role>()
                    .map_err(|m| bad("OIDC_DEFAULT_ROLE", "oidc-default-role", m))?;
                let groups_claim = args.oidc_groups_claim.as_deref().map(str::trim).filter(|s| !s.is_empty());
                let provider_name = match args.oidc_provider_name.as_deref().map(str::trim) {
                    Some(name) if !name.is_empty() => name.to_owned(),
                    _ => url.host_str().unwrap_or("your identity provider").to_owned(),
                };
                if provider_name.chars().count() > 60 {
                    return Err(bad("OIDC_PROVIDER_NAME", "oidc-provider-name", "must be at most 60 characters"));
                }
                Some(OidcSettings {
                    issuer,
                    client_id: client_id.to_owned(),
                    client_secret,
                    scopes,
                    provider_name,
                    roles: RoleMapping {
                        default_role,
                        groups_claim: groups_claim.map(str::to_owned),
                        admin_groups: groups(&args.oidc_admin_groups),
                        responder_groups: groups(&args.oidc_responder_groups),
                    },
                })
            }
        };
        if !password_login && oidc.is_none() {
            return Err(bad(
                "PASSWORD_LOGIN",
                "password-login",
                "is false, but OIDC_ISSUER is not set: nobody could sign in",
            ));
        }
        let session_idle =
            duration(&args.session_idle_minutes, "SESSION_IDLE_MINUTES", "session-idle-minutes", 60, 525_600)?;
        let session_max_age =
            duration(&args.session_max_age_hours, "SESSION_MAX_AGE_HOURS", "session-max-age-hours", 3600, 8_760)?;
        Ok(SignInSettings { oidc, password_login, session_idle, session_max_age })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Cli;
    use clap::Parser;

    fn parse(extra: &[&str]) -> Result<SignInSettings, ConfigError> {
        let mut argv = vec!["firebreak"];
        argv.extend_from_slice(extra);
        SignInSettings::from_args(&Cli::parse_from(argv).settings.sign_in)
    }

    #[test]
    fn without_an_issuer_only_passwords_are_used() {
        let s = parse(&[]).expect("defaults");
        assert!(s.oidc.is_none());
        assert!(s.password_login);
    }

    #[test]
    fn an_issuer_needs_a_client_id_and_https() {
        assert_eq!(parse(&["--oidc-issuer", "https://id.example.com"]).expect_err("no client").env, "OIDC_CLIENT_ID");
        let e = parse(&["--oidc-issuer", "http://id.example.com", "--oidc-client-id", "fb"]).expect_err("http");
        assert_eq!(e.env, "OIDC_ISSUER");
        let s = parse(&["--oidc-issuer", "http://127.0.0.1:9000", "--oidc-client-id", "fb"]).expect("loopback");
        let oidc = s.oidc.expect("configured");
        assert_eq!(oidc.provider_name, "127.0.0.1");
        assert_eq!(oidc.scopes, vec!["email", "profile"]);
        assert_eq!(oidc.roles.default_role, Role::Viewer);
    }

    #[test]
    fn groups_roles_and_password_login_are_checked() {
        let s = parse(&[
            "--oidc-issuer",
            "https://login.example.com/tenant/v2.0",
            "--oidc-client-id",
            "fb",
            "--oidc-default-role",
            "responder",
            "--oidc-groups-claim",
            "groups",
            "--oidc-admin-groups",
            "SRE Leads, platform-admins",
            "--oidc-provider-name",
            "Example SSO",
            "--password-login",
            "false",
        ])
        .expect("valid");
        assert!(!s.password_login);
        let oidc = s.oidc.expect("configured");
        assert_eq!(oidc.provider_name, "Example SSO");
        assert_eq!(oidc.roles.admin_groups, vec!["SRE Leads", "platform-admins"]);
        assert_eq!(oidc.roles.default_role, Role::Responder);
        assert_eq!(parse(&["--password-login", "false"]).expect_err("nobody could sign in").env, "PASSWORD_LOGIN");
        assert_eq!(parse(&["--password-login", "maybe"]).expect_err("bad bool").env, "PASSWORD_LOGIN");
        let e =
            parse(&["--oidc-issuer", "https://id.example.com", "--oidc-client-id", "fb", "--oidc-default-role", "x"])
                .expect_err("bad role");
        assert_eq!(e.env, "OIDC_DEFAULT_ROLE");
    }
}
