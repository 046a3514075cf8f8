//! Settings from flags and environment variables. Each value is checked once
//! here; a bad one stops start-up with one line naming the setting and why.

use std::net::{SocketAddr, ToSocketAddrs};

use base64::Engine;
use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

pub mod sign_in;

/// The default `FIREBREAK_DATA`: where the embedded PostgreSQL keeps its cluster.
pub const DEFAULT_DATA_DIR: &str = "firebreak-data";

#[derive(Debug, Parser)]
#[command(name = "firebreak", version, about = "Self-hosted incident response")]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application (the default).
    Serve,
    /// Create the database if needed, apply migrations, and exit.
    Migrate,
    /// Fill a new database with a believable example (people, components, incidents) to look around.
    Demo,
    /// Manage users from the command line.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password comes from FIREBREAK_PASSWORD or is asked for.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, responder or viewer
        #[arg(long, default_value = "responder")]
        role: String,
        /// IANA time zone, e.g. Europe/Berlin
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// PostgreSQL URL; the database is created when missing. Without it, Firebreak runs its own
    /// PostgreSQL in FIREBREAK_DATA.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// The folder of the embedded PostgreSQL (used when DATABASE_URL is not set).
    #[arg(long, env = "FIREBREAK_DATA", default_value = DEFAULT_DATA_DIR, global = true)]
    pub data_dir: String,
    /// The folder holding PostgreSQL's server programs (initdb, pg_ctl) for the embedded database;
    /// found on its own when not set.
    #[arg(long, env = "PG_BIN", global = true)]
    pub pg_bin: Option<String>,
    /// Address to listen on, host:port.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: String,
    /// The public URL people reach Firebreak at (links in emails; https makes cookies Secure).
    /// Defaults to http://BIND.
    #[arg(long, env = "BASE_URL", global = true)]
    pub base_url: Option<String>,
    /// Base64 of at least 64 random bytes that sign and encrypt session cookies.
    /// Without it a key is generated and sessions do not survive a restart.
    #[arg(long, env = "SESSION_KEY", hide_env_values = true, global = true)]
    pub session_key: Option<String>,
    /// Where to send email: smtp://[user:pass@]host[:port] (port 587, STARTTLS: required when a user is
    /// given, used when offered otherwise; override with ?tls=required|opportunistic|none) or
    /// smtps://[user:pass@]host[:port] (port 465, TLS from the start). Percent-encode special characters
    /// in the user and password. Without it, mail is written to MAIL_DIR.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,
    /// The From header of every email.
    #[arg(long, env = "MAIL_FROM", default_value = "Firebreak <firebreak@localhost>", global = true)]
    pub mail_from: String,
    /// Largest number of database connections this instance keeps.
    #[arg(long, env = "DB_POOL_SIZE", default_value = "16", global = true)]
    pub db_pool_size: String,
    /// HTTP worker threads (default: one per CPU).
    #[arg(long, env = "WORKERS", global = true)]
    pub workers: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: String,
    /// Folder emails are written to (one .eml file each) when SMTP_URL is not set.
    #[arg(long, env = "MAIL_DIR", default_value = "mail", global = true)]
    pub mail_dir: String,
    /// A PEM file with an extra CA certificate to trust for the SMTP server's TLS (e.g. an internal CA).
    #[arg(long, env = "SMTP_CA_FILE", global = true)]
    pub smtp_ca_file: Option<String>,
    /// Seconds before the first retry of an email that could not be sent; each further retry waits
    /// twice as long, up to an hour.
    #[arg(long, env = "MAIL_RETRY_BASE_SECS", default_value = "30", global = true)]
    pub mail_retry_base_secs: String,
    /// The name shown at the top of the public status page and in its API.
    #[arg(long, env = "STATUS_PAGE_NAME", default_value = "Firebreak", global = true)]
    pub status_page_name: String,
    /// Seconds between background refreshes of the public status page (it also refreshes on every change).
    #[arg(long, env = "STATUS_REFRESH_SECS", default_value = "30", global = true)]
    pub status_refresh_secs: String,
    /// Seconds before the first retry of an outgoing webhook delivery that failed; each further retry
    /// waits twice as long, up to an hour.
    #[arg(long, env = "WEBHOOK_RETRY_BASE_SECS", default_value = "30", global = true)]
    pub webhook_retry_base_secs: String,
    /// When set, /metrics answers only requests with `Authorization: Bearer <this token>`.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<String>,
    /// Hosts the server may call even though they resolve to internal (loopback, link-local,
    /// private) addresses, comma-separated, e.g. `hooks.internal,10.0.0.5`. Others are refused.
    #[arg(long, env = "OUTGOING_ALLOWED_HOSTS", default_value = "", global = true)]
    pub outgoing_allowed_hosts: String,
    /// Seconds between runs of the overdue follow-up digest job (each owner gets at most one digest a day).
    #[arg(long, env = "DIGEST_INTERVAL_SECS", default_value = "600", global = true)]
    pub digest_interval_secs: String,
    /// Seconds to keep trying to reach the database at start-up before giving up (exit status 1).
    #[arg(long, env = "DB_START_TIMEOUT_SECS", default_value = "60", global = true)]
    pub db_start_timeout_secs: String,
    #[command(flatten)]
    pub sign_in: sign_in::SignInArgs,
    /// Seconds in one "minute" of an escalation policy's waits and of the one-message-a-minute
    /// limit per contact method. Only tests change it.
    #[arg(long, env = "ESCALATION_MINUTE_SECS", default_value = "60", global = true, hide = true)]
    pub escalation_minute_secs: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Firebreak's own PostgreSQL, when `DATABASE_URL` is not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedDatabase {
    /// Absolute.
    pub data_dir: std::path::PathBuf,
    pub pg_bin: Option<std::path::PathBuf>,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The operator's database, or the embedded cluster's socket URL.
    pub database_url: SecretString,
    /// Set when Firebreak must start its own PostgreSQL (`database_url` points at it).
    pub embedded: Option<EmbeddedDatabase>,
    pub bind: SocketAddr,
    pub base_url: url::Url,
    /// Raw key bytes (at least 64); `None` means "generate one".
    pub session_key: Option<SecretString>,
    /// SMTP_URL, parsed once here; `None` writes mail to `mail_dir` instead.
    pub smtp: Option<crate::email::SmtpEndpoint>,
    pub mail_from: String,
    pub db_pool_size: usize,
    pub workers: usize,
    pub log_format: LogFormat,
    pub mail_dir: std::path::PathBuf,
    /// PEM text of an extra CA certificate for SMTP TLS (read at start-up).
    pub smtp_ca_pem: Option<String>,
    /// Wait before the first retry of an email; doubles with each attempt.
    pub mail_retry_base: std::time::Duration,
    pub status_page_name: String,
    pub status_refresh: std::time::Duration,
    /// Wait before the first retry of a webhook delivery; doubles with each attempt.
    pub webhook_retry_base: std::time::Duration,
    /// The bearer token /metrics requires; `None` leaves it open.
    pub metrics_token: Option<SecretString>,
    /// How often the overdue follow-up digest job looks for digests to send.
    pub digest_interval: std::time::Duration,
    /// How long start-up keeps trying to reach the database.
    pub db_start_timeout: std::time::Duration,
    /// Passwords and/or an OpenID Connect provider.
    pub sign_in: sign_in::SignInSettings,
    /// Hosts outgoing requests may reach even when they resolve inside (`services::outgoing`).
    pub outgoing_allowed_hosts: Vec<String>,
    /// The length of one minute of escalation waits and paging rate limits (60 s but in tests).
    pub escalation_minute: std::time::Duration,
}

/// A bad setting: its variable name, its flag and what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{env} (--{flag}) {problem}")]
pub struct ConfigError {
    pub env: &'static str,
    pub flag: &'static str,
    pub problem: String,
}

fn bad(env: &'static str, flag: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { env, flag, problem: problem.into() }
}

impl Settings {
    pub fn from_args(args: &SettingsArgs) -> Result<Settings, ConfigError> {
        let (database_url, embedded) = match args.database_url.as_deref() {
            Some(url) => (parse_database_url(url)?, None),
            None => {
                let embedded = parse_embedded(&args.data_dir, args.pg_bin.as_deref())?;
                (SecretString::from(crate::db::embedded::database_url(&embedded.data_dir)), Some(embedded))
            }
        };
        let bind = args.bind.to_socket_addrs().ok().and_then(|mut a| a.next()).ok_or_else(|| {
            bad("BIND", "bind", format!("is {:?}: expected host:port, e.g. 127.0.0.1:8080", args.bind))
        })?;
        let base_url = match &args.base_url {
            Some(s) => parse_base_url(s)?,
            None => parse_base_url(&format!("http://{bind}"))?,
        };
        let session_key = args.session_key.as_deref().map(parse_session_key).transpose()?;
        let smtp = args.smtp_url.as_deref().map(parse_smtp_url).transpose()?;
        if !args.mail_from.contains('@') {
            return Err(bad(
                "MAIL_FROM",
                "mail-from",
                "needs an email address, e.g. \"Firebreak <firebreak@example.com>\"",
            ));
        }
        let db_pool_size = match args.db_pool_size.trim().parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(bad(
                    "DB_POOL_SIZE",
                    "db-pool-size",
                    format!("is {:?}: expected a number from 1 to 1000", args.db_pool_size),
                ));
            }
        };
        let workers = match args.workers.as_deref() {
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            Some(w) => match w.trim().parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => n,
                _ => return Err(bad("WORKERS", "workers", format!("is {w:?}: expected a number from 1 to 256"))),
            },
        };
        let log_format = match args.log_format.trim() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => return Err(bad("LOG_FORMAT", "log-format", format!("is {other:?}: expected text or json"))),
        };
        if args.mail_dir.trim().is_empty() {
            return Err(bad("MAIL_DIR", "mail-dir", "is empty: name a folder, e.g. mail"));
        }
        let smtp_ca_pem = match args.smtp_ca_file.as_deref() {
            None => None,
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|e| {
                    bad("SMTP_CA_FILE", "smtp-ca-file", format!("is {path:?}, which cannot be read: {e}"))
                })?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(bad(
                        "SMTP_CA_FILE",
                        "smtp-ca-file",
                        format!("is {path:?}, which holds no PEM certificate"),
                    ));
                }
                Some(pem)
            }
        };
        let mail_retry_base = match args.mail_retry_base_secs.trim().parse::<f64>() {
            Ok(n) if (0.01..=3600.0).contains(&n) => std::time::Duration::from_secs_f64(n),
            _ => {
                return Err(bad(
                    "MAIL_RETRY_BASE_SECS",
                    "mail-retry-base-secs",
                    format!("is {:?}: expected a number of seconds from 0.01 to 3600", args.mail_retry_base_secs),
                ));
            }
        };
        let status_page_name = args.status_page_name.trim().to_owned();
        if status_page_name.is_empty() || status_page_name.chars().count() > 80 {
            return Err(bad("STATUS_PAGE_NAME", "status-page-name", "must be 1 to 80 characters"));
        }
        let status_refresh = match args.status_refresh_secs.trim().parse::<u64>() {
            Ok(n) if (1..=3600).contains(&n) => std::time::Duration::from_secs(n),
            _ => {
                return Err(bad(
                    "STATUS_REFRESH_SECS",
                    "status-refresh-secs",
                    format!("is {:?}: expected a number of seconds from 1 to 3600", args.status_refresh_secs),
                ));
            }
        };
        let webhook_retry_base = match args.webhook_retry_base_secs.trim().parse::<f64>() {
            Ok(n) if (0.01..=3600.0).contains(&n) => std::time::Duration::from_secs_f64(n),
            _ => {
                return Err(bad(
                    "WEBHOOK_RETRY_BASE_SECS",
                    "webhook-retry-base-secs",
                    format!("is {:?}: expected a number of seconds from 0.01 to 3600", args.webhook_retry_base_secs),
                ));
            }
        };
        let metrics_token = match args.metrics_token.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(bad("METRICS_TOKEN", "metrics-token", "must be at least 16 characters without spaces"));
            }
            Some(t) => Some(SecretString::from(t.to_owned())),
        };
        let digest_interval = match args.digest_interval_secs.trim().parse::<f64>() {
            Ok(n) if (0.05..=86_400.0).contains(&n) => std::time::Duration::from_secs_f64(n),
            _ => {
                return Err(bad(
                    "DIGEST_INTERVAL_SECS",
                    "digest-interval-secs",
                    format!("is {:?}: expected a number of seconds from 0.05 to 86400", args.digest_interval_secs),
                ));
            }
        };
        let db_start_timeout = match args.db_start_timeout_secs.trim().parse::<f64>() {
            Ok(n) if (0.0..=86_400.0).contains(&n) => std::time::Duration::from_secs_f64(n),
            _ => {
                return Err(bad(
                    "DB_START_TIMEOUT_SECS",
                    "db-start-timeout-secs",
                    format!("is {:?}: expected a number of seconds from 0 to 86400", args.db_start_timeout_secs),
                ));
            }
        };
        Ok(Settings {
            database_url,
            embedded,
            bind,
            base_url,
            session_key,
            smtp,
            mail_from: args.mail_from.trim().to_owned(),
            db_pool_size,
            workers,
            log_format,
            mail_dir: std::path::PathBuf::from(args.mail_dir.trim()),
            smtp_ca_pem,
            mail_retry_base,
            status_page_name,
            status_refresh,
            webhook_retry_base,
            metrics_token,
            digest_interval,
            db_start_timeout,
            sign_in: sign_in::SignInSettings::from_args(&args.sign_in)?,
            outgoing_allowed_hosts: args
                .outgoing_allowed_hosts
                .split(',')
                .map(|h| h.trim().trim_start_matches('[').trim_end_matches(']').to_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            escalation_minute: match args.escalation_minute_secs.trim().parse::<f64>() {
                Ok(n) if (0.05..=60.0).contains(&n) => std::time::Duration::from_secs_f64(n),
                _ => {
                    return Err(bad(
                        "ESCALATION_MINUTE_SECS",
                        "escalation-minute-secs",
                        format!("is {:?}: expected a number of seconds from 0.05 to 60", args.escalation_minute_secs),
                    ));
                }
            },
        })
    }

    /// Whether people reach us over https, so cookies must be Secure.
    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// The session key bytes, when one was configured.
    pub fn session_key_bytes(&self) -> Option<Vec<u8>> {
        self.session_key.as_ref().and_then(|k| decode_key(k.expose_secret()).ok())
    }
}

fn parse_database_url(s: &str) -> Result<SecretString, ConfigError> {
    let url = url::Url::parse(s).map_err(|e| bad("DATABASE_URL", "database-url", format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(bad("DATABASE_URL", "database-url", "must start with postgres://"));
    }
    if url.path().trim_start_matches('/').is_empty() {
        return Err(bad(
            "DATABASE_URL",
            "database-url",
            "names no database, e.g. postgres://postgres@127.0.0.1:5432/firebreak",
        ));
    }
    Ok(SecretString::from(s.to_owned()))
}

fn parse_embedded(data_dir: &str, pg_bin: Option<&str>) -> Result<EmbeddedDatabase, ConfigError> {
    if data_dir.trim().is_empty() {
        return Err(bad("FIREBREAK_DATA", "data-dir", "is empty: name a folder, e.g. firebreak-data"));
    }
    let data_dir = std::path::absolute(data_dir.trim()).map_err(|e| {
        bad("FIREBREAK_DATA", "data-dir", format!("is {data_dir:?}, which cannot be made absolute: {e}"))
    })?;
    let pg_bin = pg_bin.map(str::trim).filter(|p| !p.is_empty()).map(std::path::PathBuf::from);
    Ok(EmbeddedDatabase { data_dir, pg_bin })
}

fn parse_base_url(s: &str) -> Result<url::Url, ConfigError> {
    let url =
        url::Url::parse(s.trim()).map_err(|e| bad("BASE_URL", "base-url", format!("is {s:?}, not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("BASE_URL", "base-url", format!("is {s:?}: expected http://host or https://host")));
    }
    Ok(url)
}

/// Base64 with any white space removed (`openssl rand -base64 64` wraps its output).
fn decode_key(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact)
}

fn parse_session_key(s: &str) -> Result<SecretString, ConfigError> {
    let bytes = decode_key(s)
        .map_err(|_| bad("SESSION_KEY", "session-key", "is not base64; make one with: openssl rand -base64 64"))?;
    if bytes.len() < 64 {
        return Err(bad(
            "SESSION_KEY",
            "session-key",
            format!("decodes to {} bytes; it needs at least 64 (openssl rand -base64 64)", bytes.len()),
        ));
    }
    Ok(SecretString::from(s.trim().to_owned()))
}

fn parse_smtp_url(s: &str) -> Result<crate::email::SmtpEndpoint, ConfigError> {
    crate::email::SmtpEndpoint::parse(s).map_err(|problem| bad("SMTP_URL", "smtp-url", problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> SettingsArgs {
        let mut argv = vec!["firebreak"];
        argv.extend_from_slice(extra);
        Cli::parse_from(argv).settings
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = Settings::from_args(&args(&[])).expect("defaults are valid");
        let embedded = s.embedded.as_ref().expect("without DATABASE_URL the database is embedded");
        assert!(embedded.data_dir.is_absolute() && embedded.data_dir.ends_with(DEFAULT_DATA_DIR));
        assert!(s.database_url.expose_secret().starts_with("postgres:///firebreak?host="));
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.base_url.as_str(), "http://127.0.0.1:8080/");
        assert!(!s.is_https());
    }

    #[test]
    fn a_bad_value_names_its_setting() {
        let e = Settings::from_args(&args(&["--bind", "nowhere"])).expect_err("bad bind");
        assert_eq!(e.env, "BIND");
        let e = Settings::from_args(&args(&["--session-key", "c2hvcnQ="])).expect_err("short key");
        assert!(e.to_string().starts_with("SESSION_KEY (--session-key) decodes to 5 bytes"), "{e}");
        let e = Settings::from_args(&args(&["--smtp-url", "http://mail"])).expect_err("bad smtp");
        assert_eq!(e.env, "SMTP_URL");
        let e = Settings::from_args(&args(&["--database-url", "mysql://x/y"])).expect_err("bad db");
        assert_eq!(e.env, "DATABASE_URL");
    }

    #[test]
    fn a_database_url_turns_the_embedded_database_off() {
        let s = Settings::from_args(&args(&["--database-url", "postgres://db/firebreak"])).expect("valid");
        assert_eq!(s.database_url.expose_secret(), "postgres://db/firebreak");
        assert!(s.embedded.is_none());
    }

    #[test]
    fn session_keys_may_be_wrapped_over_lines() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let wrapped = format!("{}\n{}\n", &key[..64], &key[64..]);
        let s = Settings::from_args(&args(&["--session-key", &wrapped])).expect("valid");
        assert_eq!(s.session_key_bytes().expect("decodes"), vec![7u8; 64]);
    }

    #[test]
    fn https_base_urls_make_cookies_secure() {
        let s = Settings::from_args(&args(&["--base-url", "https://status.example.com"])).expect("valid");
        assert!(s.is_https());
    }

    #[test]
    fn the_metrics_token_and_webhook_retry_wait_are_checked() {
        let s = Settings::from_args(&args(&[])).expect("defaults");
        assert!(s.metrics_token.is_none());
        assert_eq!(s.webhook_retry_base, std::time::Duration::from_secs(30));
        let s =
            Settings::from_args(&args(&["--metrics-token", "0123456789abcdef", "--webhook-retry-base-secs", "0.5"]))
                .expect("valid");
        assert_eq!(s.metrics_token.as_ref().map(|t| t.expose_secret().to_owned()), Some("0123456789abcdef".into()));
        assert_eq!(s.webhook_retry_base, std::time::Duration::from_millis(500));
        assert_eq!(Settings::from_args(&args(&["--metrics-token", "short"])).expect_err("short").env, "METRICS_TOKEN");
        let e = Settings::from_args(&args(&["--webhook-retry-base-secs", "0"])).expect_err("zero");
        assert_eq!(e.env, "WEBHOOK_RETRY_BASE_SECS");
    }

    #[test]
    fn the_digest_interval_is_given_in_seconds() {
        let s = Settings::from_args(&args(&[])).expect("defaults are valid");
        assert_eq!(s.digest_interval, std::time::Duration::from_secs(600));
        let s = Settings::from_args(&args(&["--digest-interval-secs", "0.5"])).expect("valid");
        assert_eq!(s.digest_interval, std::time::Duration::from_millis(500));
        let e = Settings::from_args(&args(&["--digest-interval-secs", "never"])).expect_err("bad interval");
        assert_eq!(e.env, "DIGEST_INTERVAL_SECS");
    }
}
