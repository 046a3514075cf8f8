//! Where mail goes: an SMTP server (lettre, pooled connections) named by
//! SMTP_URL, or a folder of `.eml` files when there is none.
//!
//! SMTP_URL forms, and the TLS each one gets:
//!
//! | URL                                  | port | TLS                                             |
//! | ------------------------------------ | ---- | ----------------------------------------------- |
//! | `smtp://user:pass@host[:port]`       | 587  | STARTTLS required (credentials never go plain)  |
//! | `smtp://host[:port]`                 | 587  | STARTTLS when the server offers it              |
//! | `smtp://...?tls=required`            | 587  | STARTTLS required                               |
//! | `smtp://...?tls=opportunistic`       | 587  | STARTTLS when offered, even with credentials    |
//! | `smtp://...?tls=none`                | 587  | none (a local relay on a trusted network)       |
//! | `smtps://[user:pass@]host[:port]`    | 465  | TLS from the first byte                         |
//!
//! Without credentials the default is opportunistic because an unauthenticated
//! relay is usually local; a message is no more exposed than the relay makes it.
//! User and password are percent-decoded. SMTP_CA_FILE adds a trusted root.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Message;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::Settings;
use crate::db::OutboxId;

/// How long one SMTP command may take before the attempt counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection, upgraded with STARTTLS; fail when the server cannot.
    StartTlsRequired,
    /// Upgrade with STARTTLS when the server offers it.
    StartTlsOpportunistic,
    /// Never encrypt.
    None,
    /// TLS from the start (smtps, "implicit TLS").
    Implicit,
}

impl TlsMode {
    fn describe(self) -> &'static str {
        match self {
            TlsMode::StartTlsRequired => "STARTTLS required",
            TlsMode::StartTlsOpportunistic => "STARTTLS when offered",
            TlsMode::None => "no TLS",
            TlsMode::Implicit => "implicit TLS",
        }
    }
}

/// SMTP_URL, parsed. The password is a secret and never printed.
#[derive(Clone)]
pub struct SmtpEndpoint {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    pub password: Option<SecretString>,
}

impl fmt::Debug for SmtpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpEndpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl fmt::Display for SmtpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} ({}", self.host, self.port, self.tls.describe())?;
        if let Some(user) = &self.user {
            write!(f, ", as {user}")?;
        }
        f.write_str(")")
    }
}

impl SmtpEndpoint {
    /// Parses SMTP_URL (see the module documentation). Errors say what is
    /// wrong without repeating the URL, which may hold a password.
    pub fn parse(s: &str) -> Result<SmtpEndpoint, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| format!("is not a URL: {e}"))?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err("must look like smtp://host:587 or smtps://host:465".to_owned()),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("names no host, e.g. smtp://mail.example.com:587".to_owned()),
        };
        let user = match url.username() {
            "" => None,
            u => Some(percent_decode(u).ok_or("has a user name that is not valid percent-encoded UTF-8")?),
        };
        let password = match url.password() {
            None => None,
            Some(p) => Some(SecretString::from(
                percent_decode(p).ok_or("has a password that is not valid percent-encoded UTF-8")?,
            )),
        };
        if password.is_some() && user.is_none() {
            return Err("has a password but no user name".to_owned());
        }
        let mut tls_param = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" => tls_param = Some(value.into_owned()),
                other => return Err(format!("has an unknown parameter {other:?}; only tls= is understood")),
            }
        }
        let tls = match (implicit, tls_param.as_deref()) {
            (true, None) => TlsMode::Implicit,
            (true, Some(_)) => {
                return Err("uses smtps://, which is always TLS: drop the tls= parameter".to_owned());
            }
            (false, None) if user.is_some() => TlsMode::StartTlsRequired,
            (false, None) => TlsMode::StartTlsOpportunistic,
            (false, Some("required")) => TlsMode::StartTlsRequired,
            (false, Some("opportunistic")) => TlsMode::StartTlsOpportunistic,
            (false, Some("none")) => TlsMode::None,
            (false, Some(other)) => {
                return Err(format!("has tls={other:?}: expected required, opportunistic or none"));
            }
        };
        let port = url.port().unwrap_or(if implicit { 465 } else { 587 });
        Ok(SmtpEndpoint { host, port, tls, user, password })
    }

    /// A pooled lettre transport for this endpoint, trusting `ca_pem` besides
    /// the system's roots.
    pub fn transport(
        &self,
        ca_pem: Option<&str>,
        pool_size: u32,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
            .port(self.port)
            .timeout(Some(COMMAND_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(pool_size).idle_timeout(Duration::from_secs(60)));
        if self.tls != TlsMode::None {
            let mut params = TlsParameters::builder(self.host.clone());
            if let Some(pem) = ca_pem {
                params = params.add_root_certificate(Certificate::from_pem(pem.as_bytes())?);
            }
            let params = params.build_rustls()?;
            builder = builder.tls(match self.tls {
                TlsMode::StartTlsRequired => Tls::Required(params),
                TlsMode::StartTlsOpportunistic => Tls::Opportunistic(params),
                TlsMode::Implicit => Tls::Wrapper(params),
                TlsMode::None => Tls::None,
            });
        }
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
        }
        Ok(builder.build())
    }
}

/// `%XX` escapes decoded; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why one message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    /// Retrying cannot help (a 5xx reply, an unusable message).
    pub permanent: bool,
}

impl SendError {
    pub fn permanent(message: impl Into<String>) -> Self {
        SendError { message: message.into(), permanent: true }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        SendError { message: message.into(), permanent: false }
    }
}

impl From<lettre::transport::smtp::Error> for SendError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        // The chain of sources says why a connection failed ("connection refused").
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
        SendError { message, permanent: e.is_permanent() }
    }
}

/// Delivers built messages.
#[derive(Clone)]
pub enum Transport {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        endpoint: String,
    },
    /// One `.eml` file per message, for development and for installs without mail.
    Folder(PathBuf),
}

impl Transport {
    /// The transport the settings ask for. Fails only on an unusable CA certificate.
    pub fn from_settings(settings: &Settings, pool_size: u32) -> anyhow::Result<Transport> {
        match &settings.smtp {
            None => Ok(Transport::Folder(settings.mail_dir.clone())),
            Some(endpoint) => {
                let transport = endpoint
                    .transport(settings.smtp_ca_pem.as_deref(), pool_size)
                    .map_err(|e| anyhow::anyhow!("cannot set up SMTP to {endpoint}: {e}"))?;
                Ok(Transport::Smtp { transport, endpoint: endpoint.to_string() })
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp { endpoint, .. } => format!("SMTP to {endpoint}"),
            Transport::Folder(dir) => format!("files in {}", dir.display()),
        }
    }

    pub async fn send(&self, id: OutboxId, message: Message) -> Result<(), SendError> {
        match self {
            Transport::Smtp { transport, .. } => {
                transport.send(message).await?;
                Ok(())
            }
            Transport::Folder(dir) => {
                let dir = dir.clone();
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_eml(&dir, id, &bytes))
                    .await
                    .map_err(|e| SendError::transient(format!("the file writer failed: {e}")))?
                    .map_err(|e| SendError::transient(format!("cannot write to the mail folder: {e}")))
            }
        }
    }
}

/// Writes `outbox-<id>.eml`, through a temporary name so that nobody reading
/// the folder sees half a message.
fn write_eml(dir: &std::path::Path, id: OutboxId, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".outbox-{id}.eml.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(format!("outbox-{id}.eml")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SmtpEndpoint {
        SmtpEndpoint::parse(s).expect(s)
    }

    #[test]
    fn smtp_with_credentials_requires_starttls_on_the_submission_port() {
        let e = parse("smtp://alerts:s%40cr%2Ft@mail.example.com");
        assert_eq!((e.host.as_str(), e.port, e.tls), ("mail.example.com", 587, TlsMode::StartTlsRequired));
        assert_eq!(e.user.as_deref(), Some("alerts"));
        assert_eq!(e.password.as_ref().map(|p| p.expose_secret().to_owned()).as_deref(), Some("s@cr/t"));
    }

    #[test]
    fn smtp_without_credentials_uses_starttls_when_offered() {
        let e = parse("smtp://127.0.0.1:2525");
        assert_eq!((e.host.as_str(), e.port, e.tls), ("127.0.0.1", 2525, TlsMode::StartTlsOpportunistic));
        assert_eq!(parse("smtp://relay?tls=required").tls, TlsMode::StartTlsRequired);
        assert_eq!(parse("smtp://u:p@relay?tls=opportunistic").tls, TlsMode::StartTlsOpportunistic);
        assert_eq!(parse("smtp://relay:25?tls=none").tls, TlsMode::None);
    }

    #[test]
    fn smtps_is_implicit_tls_on_port_465() {
        let e = parse("smtps://u%2Bx:p@mail.example.com");
        assert_eq!((e.port, e.tls, e.user.as_deref()), (465, TlsMode::Implicit, Some("u+x")));
        assert_eq!(parse("smtps://mail.example.com:2465").port, 2465);
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_the_password() {
        for bad in [
            "http://mail.example.com",
            "smtp://",
            "smtp://u:p@host?tls=maybe",
            "smtps://host?tls=none",
            "smtp://host?timeout=3",
            "smtp://u:bad%zz@host",
            "not a url",
        ] {
            let e = SmtpEndpoint::parse(bad).expect_err(bad);
            assert!(!e.contains("bad%zz"), "{e}");
        }
    }

    #[test]
    fn passwords_never_show_in_debug_or_display() {
        let e = parse("smtp://user:hunter2@mail.example.com");
        assert!(!format!("{e:?}").contains("hunter2"));
        assert_eq!(e.to_string(), "mail.example.com:587 (STARTTLS required, as user)");
    }

    #[test]
    fn percent_decoding_handles_utf8_and_rejects_broken_escapes() {
        assert_eq!(percent_decode("p%C3%A4ss%20word").as_deref(), Some("päss word"));
        assert_eq!(percent_decode("100%"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
