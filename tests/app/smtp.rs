//! A real SMTP server inside the test process, so tests see exactly what a
//! mail server would receive from the app (lettre talks to it unmodified).
//!
//! ```ignore
//! let sink = MailSink::start().await;                      // plain SMTP, no auth
//! let sink = MailSink::start_tls_auth("user", "pass").await; // STARTTLS required before AUTH, AUTH before MAIL
//! let sink = MailSink::start_implicit_tls("user", "pass").await; // smtps: TLS from the first byte
//! let app = spawn_app_with_sink(&sink).await;              // SMTP_URL, SMTP_CA_FILE and a short retry base
//! let mail = sink.wait_for(1, Duration::from_secs(10)).await; // Vec<ReceivedMail>, panics on timeout
//! mail[0].subject(); mail[0].header("List-Unsubscribe"); mail[0].text(); mail[0].html(); mail[0].attachments();
//! sink.messages();                                         // everything so far
//! sink.reject("nobody@example.test");                      // RCPT TO that address gets 550 (permanent)
//! sink.accept("nobody@example.test");                      // ...and is accepted again
//! sink.connections();                                      // SMTP connections opened so far
//! sink.stop();                                             // port closed, open connections dropped
//! let sink = MailSink::start_on(port).await;               // back up on the same port (plain)
//! let sink = old.restart().await;                          // back up with the same port, TLS and credentials
//! ```
//!
//! `sink.smtp_url()` is `smtp://127.0.0.1:<port>` (the app uses STARTTLS only
//! when offered, and the plain sink does not offer it), or with credentials
//! `smtp://user:pass@127.0.0.1:<port>` (the app then requires STARTTLS) or
//! `smtps://user:pass@127.0.0.1:<port>`. The TLS sinks use a certificate for
//! 127.0.0.1 and localhost signed by a throwaway CA, `sink.ca_pem()`.

use std::collections::HashSet;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine;
use firebreak::config::Settings;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;

use crate::helpers::{TestApp, spawn_app_with};

/// The app under test, sending its mail to `sink` (SMTP_URL, the sink's CA as
/// SMTP_CA_FILE, and retries 200 ms apart at first, so down-then-up tests are quick).
pub async fn spawn_app_with_sink(sink: &MailSink) -> TestApp {
    spawn_app_with(|s| configure_for_sink(s, sink)).await
}

/// Points settings at the sink; for apps built by hand (e.g. a second instance).
pub fn configure_for_sink(settings: &mut Settings, sink: &MailSink) {
    settings.smtp = Some(firebreak::email::SmtpEndpoint::parse(&sink.smtp_url()).expect("the sink's URL parses"));
    settings.smtp_ca_pem = sink.ca_pem();
    settings.mail_retry_base = Duration::from_millis(200);
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (MAIL FROM).
    pub from: String,
    /// The envelope recipients (RCPT TO).
    pub to: Vec<String>,
    /// The message as sent after DATA (RFC 5322, CRLF line ends, dots unstuffed).
    pub data: String,
    /// Whether the session was encrypted (STARTTLS or implicit TLS).
    pub tls: bool,
    /// The user the session authenticated as.
    pub user: Option<String>,
}

/// An attachment of a received message.
#[derive(Debug, Clone)]
pub struct MailAttachment {
    pub name: String,
    /// e.g. "application/ics"
    pub content_type: String,
    pub body: Vec<u8>,
}

impl ReceivedMail {
    /// The message parsed by mail-parser, for anything the helpers below do not cover.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(self.data.as_bytes()).expect("the sink received a parsable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// A header's value as written (unfolded and trimmed; encoded words left as they are).
    pub fn header(&self, name: &str) -> Option<String> {
        let parsed = self.parsed();
        let raw = parsed.header_raw(name)?;
        Some(raw.replace("\r\n", "").replace('\n', "").trim().to_owned())
    }

    /// The Message-ID header, with its angle brackets.
    pub fn message_id(&self) -> String {
        self.header("Message-ID").expect("every message has a Message-ID")
    }

    /// The text/plain body (empty when there is none).
    pub fn text(&self) -> String {
        let parsed = self.parsed();
        parsed.text_bodies().next().and_then(|p| p.text_contents()).unwrap_or_default().to_owned()
    }

    /// The text/html body (empty when there is none).
    pub fn html(&self) -> String {
        let parsed = self.parsed();
        parsed.html_bodies().next().and_then(|p| p.text_contents()).unwrap_or_default().to_owned()
    }

    /// The parts sent as attachments (`Content-Disposition: attachment`). Inline
    /// alternatives such as a `text/calendar` part are not among them.
    pub fn attachments(&self) -> Vec<MailAttachment> {
        use mail_parser::MimeHeaders;
        self.parsed()
            .attachments()
            .filter(|a| a.content_disposition().is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment")))
            .map(|a| MailAttachment {
                name: a.attachment_name().unwrap_or_default().to_owned(),
                content_type: a
                    .content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
                    .unwrap_or_default(),
                body: a.contents().to_vec(),
            })
            .collect()
    }
}

#[derive(Clone)]
enum Security {
    Plain,
    StartTls(Arc<rustls::ServerConfig>),
    Implicit(Arc<rustls::ServerConfig>),
}

#[derive(Clone)]
struct Config {
    security: Security,
    credentials: Option<(String, String)>,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<ReceivedMail>>,
    rejected: Mutex<HashSet<String>>,
    tasks: Mutex<Vec<AbortHandle>>,
    connections: AtomicUsize,
}

/// The SMTP server. Dropping it stops it.
pub struct MailSink {
    port: u16,
    config: Config,
    shared: Arc<Shared>,
}

impl MailSink {
    /// Plain SMTP without authentication, on a free port.
    pub async fn start() -> MailSink {
        Self::launch(Config { security: Security::Plain, credentials: None }, 0).await
    }

    /// Plain SMTP on `port`, e.g. where a stopped sink was.
    pub async fn start_on(port: u16) -> MailSink {
        Self::launch(Config { security: Security::Plain, credentials: None }, port).await
    }

    /// STARTTLS offered and required before AUTH (PLAIN or LOGIN), AUTH required before MAIL.
    pub async fn start_tls_auth(user: &str, password: &str) -> MailSink {
        let config = Config {
            security: Security::StartTls(tls_config()),
            credentials: Some((user.to_owned(), password.to_owned())),
        };
        Self::launch(config, 0).await
    }

    /// TLS from the first byte (smtps), AUTH required before MAIL.
    pub async fn start_implicit_tls(user: &str, password: &str) -> MailSink {
        let config = Config {
            security: Security::Implicit(tls_config()),
            credentials: Some((user.to_owned(), password.to_owned())),
        };
        Self::launch(config, 0).await
    }

    /// A new sink like this one (same security and credentials) on the same
    /// port, with no messages yet. Stop this one first.
    pub async fn restart(&self) -> MailSink {
        Self::launch(self.config.clone(), self.port).await
    }

    async fn launch(config: Config, port: u16) -> MailSink {
        // A port just closed may take a moment to be free again.
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => break l,
                Err(e) if port != 0 && Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the SMTP sink cannot listen on 127.0.0.1:{port}: {e}"),
            }
        };
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, config.clone(), Arc::clone(&shared)));
        shared.tasks.lock().expect("lock").push(accept.abort_handle());
        MailSink { port, config, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The SMTP_URL the app needs to reach this sink (with its credentials).
    pub fn smtp_url(&self) -> String {
        let scheme = if matches!(self.config.security, Security::Implicit(_)) { "smtps" } else { "smtp" };
        let userinfo = match &self.config.credentials {
            Some((user, password)) => format!("{}:{}@", percent_encode(user), percent_encode(password)),
            None => String::new(),
        };
        format!("{scheme}://{userinfo}127.0.0.1:{}", self.port)
    }

    /// The PEM of the CA that signed the TLS certificate (None for the plain sink).
    pub fn ca_pem(&self) -> Option<String> {
        match self.config.security {
            Security::Plain => None,
            _ => Some(certificates().ca_pem.clone()),
        }
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.messages.lock().expect("lock").clone()
    }

    /// How many SMTP connections were opened to this sink.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Refuses mail to `address` from now on with a permanent error (550).
    pub fn reject(&self, address: &str) {
        self.shared.rejected.lock().expect("lock").insert(address.to_ascii_lowercase());
    }

    /// Accepts mail to `address` again after `reject`.
    pub fn accept(&self, address: &str) {
        self.shared.rejected.lock().expect("lock").remove(&address.to_ascii_lowercase());
    }

    /// Waits until at least `n` messages arrived and returns them all; panics
    /// with what did arrive when `timeout` passes first.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            // Counting, not copying: a fan-out test waits for thousands.
            let received = self.shared.messages.lock().expect("lock").len();
            if received >= n {
                return self.messages();
            }
            if Instant::now() >= deadline {
                let first: Vec<ReceivedMail> =
                    self.shared.messages.lock().expect("lock").iter().take(10).cloned().collect();
                let subjects: Vec<String> = first.iter().map(ReceivedMail::subject).collect();
                panic!(
                    "the SMTP sink on port {} expected at least {n} messages within {timeout:?} but received {}{}",
                    self.port,
                    received,
                    if subjects.is_empty() { String::new() } else { format!(": {subjects:?}") }
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Closes the port and drops every open connection, like a server going down.
    pub fn stop(&self) {
        for task in self.shared.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Everything but unreserved characters (RFC 3986) as %XX, for user names and passwords in URLs.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn accept_loop(listener: TcpListener, config: Config, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let config = config.clone();
        let session_shared = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            // A client hanging up mid-session is not the sink's problem.
            let _ = session(stream, config, session_shared).await;
        });
        let mut tasks = shared.tasks.lock().expect("lock");
        tasks.retain(|t| !t.is_finished());
        tasks.push(task.abort_handle());
    }
}

/// A connection before or after TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

const MAX_LINE: usize = 4096;
const MAX_MESSAGE: usize = 32 * 1024 * 1024;

struct Conn {
    io: BufReader<Stream>,
}

impl Conn {
    async fn reply(&mut self, text: &str) -> io::Result<()> {
        // One write per reply: split writes meet Nagle and delayed ACKs and
        // cost tens of milliseconds each.
        let stream = self.io.get_mut();
        stream.write_all(format!("{text}\r\n").as_bytes()).await?;
        stream.flush().await
    }

    /// One line without its CRLF; None when the client hung up.
    async fn line(&mut self) -> io::Result<Option<String>> {
        let mut buf = Vec::new();
        let n = (&mut self.io).take(MAX_LINE as u64).read_until(b'\n', &mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    /// The message after DATA, up to the line with a single dot.
    async fn data(&mut self) -> io::Result<Option<String>> {
        let mut message = Vec::new();
        loop {
            let mut buf = Vec::new();
            if self.io.read_until(b'\n', &mut buf).await? == 0 {
                return Ok(None);
            }
            if buf == b".\r\n" || buf == b".\n" {
                return Ok(Some(String::from_utf8_lossy(&message).into_owned()));
            }
            // RFC 5321 4.5.2: a leading dot was doubled by the client.
            let line = if buf.starts_with(b"..") { &buf[1..] } else { &buf[..] };
            message.extend_from_slice(line);
            if message.len() > MAX_MESSAGE {
                return Err(io::Error::other("message too large"));
            }
        }
    }
}

#[derive(Default)]
struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

/// The address inside `FROM:<...>` / `TO:<...>`, parameters ignored.
fn path_of(argument: &str) -> Option<String> {
    let (_, rest) = argument.split_once(':')?;
    let rest = rest.trim_start();
    let start = rest.find('<')?;
    let end = rest[start..].find('>')? + start;
    Some(rest[start + 1..end].to_owned())
}

fn b64(s: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

async fn session(stream: TcpStream, config: Config, shared: Arc<Shared>) -> io::Result<()> {
    let (stream, mut tls) = match &config.security {
        Security::Implicit(server) => {
            let tls = TlsAcceptor::from(Arc::clone(server)).accept(stream).await?;
            (Stream::Tls(Box::new(tls)), true)
        }
        _ => (Stream::Plain(stream), false),
    };
    let mut conn = Conn { io: BufReader::new(stream) };
    let starttls = match &config.security {
        Security::StartTls(server) => Some(Arc::clone(server)),
        _ => None,
    };
    let tls_required = starttls.is_some();
    conn.reply("220 sink.firebreak.test ESMTP ready").await?;
    let mut greeted = false;
    let mut user: Option<String> = None;
    let mut envelope = Envelope::default();
    while let Some(line) = conn.line().await? {
        let (verb, argument) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" | "HELO" => {
                greeted = true;
                envelope = Envelope::default();
                if verb == "HELO" {
                    conn.reply("250 sink.firebreak.test").await?;
                    continue;
                }
                let mut lines = vec!["sink.firebreak.test greets you".to_owned(), "8BITMIME".into(), "SMTPUTF8".into()];
                if starttls.is_some() && !tls {
                    lines.push("STARTTLS".into());
                }
                if config.credentials.is_some() && (tls || !tls_required) {
                    lines.push("AUTH PLAIN LOGIN".into());
                }
                let last = lines.len() - 1;
                let text: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect();
                conn.reply(&text.join("\r\n")).await?;
            }
            "STARTTLS" => {
                let Some(server) = starttls.as_ref().filter(|_| !tls) else {
                    conn.reply("502 5.5.1 STARTTLS not available").await?;
                    continue;
                };
                conn.reply("220 2.0.0 Ready to start TLS").await?;
                let Stream::Plain(tcp) = conn.io.into_inner() else {
                    return Err(io::Error::other("already encrypted"));
                };
                let encrypted = TlsAcceptor::from(Arc::clone(server)).accept(tcp).await?;
                conn = Conn { io: BufReader::new(Stream::Tls(Box::new(encrypted))) };
                tls = true;
                // RFC 3207: forget everything said before TLS.
                greeted = false;
                envelope = Envelope::default();
            }
            "AUTH" => {
                let Some((expected_user, expected_password)) = &config.credentials else {
                    conn.reply("502 5.5.1 AUTH not available").await?;
                    continue;
                };
                if tls_required && !tls {
                    conn.reply("530 5.7.0 Must issue a STARTTLS command first").await?;
                    continue;
                }
                if !greeted {
                    conn.reply("503 5.5.1 Say EHLO first").await?;
                    continue;
                }
                if user.is_some() {
                    conn.reply("503 5.5.1 Already authenticated").await?;
                    continue;
                }
                let (mechanism, initial) = match argument.split_once(' ') {
                    Some((m, i)) => (m.to_ascii_uppercase(), Some(i.trim().to_owned())),
                    None => (argument.to_ascii_uppercase(), None),
                };
                let given = match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match initial {
                            Some(i) => i,
                            None => {
                                conn.reply("334 ").await?;
                                conn.line().await?.unwrap_or_default()
                            }
                        };
                        b64(&response).and_then(|s| {
                            let mut parts = s.split('\0');
                            let _authzid = parts.next()?;
                            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
                        })
                    }
                    "LOGIN" => {
                        let name = match initial {
                            Some(i) => i,
                            None => {
                                conn.reply("334 VXNlcm5hbWU6").await?;
                                conn.line().await?.unwrap_or_default()
                            }
                        };
                        conn.reply("334 UGFzc3dvcmQ6").await?;
                        let password = conn.line().await?.unwrap_or_default();
                        b64(&name).zip(b64(&password))
                    }
                    _ => {
                        conn.reply("504 5.5.4 Unrecognized authentication type").await?;
                        continue;
                    }
                };
                match given {
                    Some((u, p)) if &u == expected_user && &p == expected_password => {
                        user = Some(u);
                        conn.reply("235 2.7.0 Authentication successful").await?;
                    }
                    _ => conn.reply("535 5.7.8 Authentication credentials invalid").await?,
                }
            }
            "MAIL" => {
                if !greeted {
                    conn.reply("503 5.5.1 Say EHLO first").await?;
                } else if tls_required && !tls {
                    conn.reply("530 5.7.0 Must issue a STARTTLS command first").await?;
                } else if config.credentials.is_some() && user.is_none() {
                    conn.reply("530 5.7.0 Authentication required").await?;
                } else if envelope.from.is_some() {
                    conn.reply("503 5.5.1 Nested MAIL command").await?;
                } else if let Some(from) = path_of(&argument) {
                    envelope.from = Some(from);
                    conn.reply("250 2.1.0 Ok").await?;
                } else {
                    conn.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                }
            }
            "RCPT" => {
                if envelope.from.is_none() {
                    conn.reply("503 5.5.1 Need MAIL command").await?;
                } else if let Some(to) = path_of(&argument) {
                    if shared.rejected.lock().expect("lock").contains(&to.to_ascii_lowercase()) {
                        conn.reply(&format!("550 5.1.1 <{to}>: Recipient address rejected: User unknown")).await?;
                    } else {
                        envelope.to.push(to);
                        conn.reply("250 2.1.5 Ok").await?;
                    }
                } else {
                    conn.reply("501 5.5.4 Syntax: RCPT TO:<address>").await?;
                }
            }
            "DATA" => {
                if envelope.to.is_empty() {
                    conn.reply("503 5.5.1 Need RCPT command").await?;
                    continue;
                }
                conn.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                let Some(data) = conn.data().await? else { return Ok(()) };
                let done = std::mem::take(&mut envelope);
                let n = {
                    let mut messages = shared.messages.lock().expect("lock");
                    messages.push(ReceivedMail {
                        from: done.from.unwrap_or_default(),
                        to: done.to,
                        data,
                        tls,
                        user: user.clone(),
                    });
                    messages.len()
                };
                conn.reply(&format!("250 2.0.0 Ok: queued as {n}")).await?;
            }
            "RSET" => {
                envelope = Envelope::default();
                conn.reply("250 2.0.0 Ok").await?;
            }
            "NOOP" => conn.reply("250 2.0.0 Ok").await?,
            "VRFY" => conn.reply("252 2.0.0 Cannot VRFY user").await?,
            "QUIT" => {
                conn.reply("221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => conn.reply("502 5.5.2 Command not recognized").await?,
        }
    }
    Ok(())
}

struct Certificates {
    ca_pem: String,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key_der: Vec<u8>,
}

/// A throwaway CA and a certificate it signed for 127.0.0.1 and localhost, made once per test run.
fn certificates() -> &'static Certificates {
    static CERTS: OnceLock<Certificates> = OnceLock::new();
    CERTS.get_or_init(|| {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Firebreak test CA");
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, "sink.firebreak.test");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca).expect("server certificate");
        Certificates { ca_pem: ca.pem(), chain: vec![cert.der().clone()], key_der: key.serialize_der() }
    })
}

fn tls_config() -> Arc<rustls::ServerConfig> {
    let certs = certificates();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs.chain.clone(), rustls::pki_types::PrivateKeyDer::Pkcs8(certs.key_der.clone().into()))
        .expect("TLS server config");
    Arc::new(config)
}

mod tests {
    //! The sink itself, driven by lettre directly (no app).

    use lettre::message::Mailbox;
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    use super::*;

    fn message(subject: &str, to: &str) -> Message {
        Message::builder()
            .from("Sender <sender@example.test>".parse::<Mailbox>().expect("from"))
            .to(to.parse::<Mailbox>().expect("to"))
            .subject(subject)
            .body(".leading dot\r\nline two\r\n".to_owned())
            .expect("message")
    }

    fn starttls(sink: &MailSink, mechanism: Mechanism, password: &str) -> AsyncSmtpTransport<Tokio1Executor> {
        let params = TlsParameters::builder("127.0.0.1".to_owned())
            .add_root_certificate(Certificate::from_pem(sink.ca_pem().expect("ca").as_bytes()).expect("pem"))
            .build_rustls()
            .expect("tls");
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(sink.port())
            .tls(Tls::Required(params))
            .credentials(Credentials::new("user".to_owned(), password.to_owned()))
            .authentication(vec![mechanism])
            .build()
    }

    #[tokio::test]
    async fn sink_takes_plain_mail_and_unstuffs_dots() {
        let sink = MailSink::start().await;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(sink.port()).build();
        transport.send(message("Hello", "ada@example.test")).await.expect("sent");
        let mail = sink.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(mail[0].from, "sender@example.test");
        assert_eq!(mail[0].to, vec!["ada@example.test".to_owned()]);
        assert_eq!(mail[0].subject(), "Hello");
        assert!(mail[0].text().starts_with(".leading dot"), "{}", mail[0].data);
        assert!(!mail[0].tls && mail[0].user.is_none());
    }

    #[tokio::test]
    async fn sink_requires_starttls_then_auth_with_plain_or_login() {
        let sink = MailSink::start_tls_auth("user", "s3cret").await;
        for mechanism in [Mechanism::Plain, Mechanism::Login] {
            starttls(&sink, mechanism, "s3cret").send(message("Secure", "ada@example.test")).await.expect("sent");
            let e = starttls(&sink, mechanism, "wrong").send(message("x", "ada@example.test")).await;
            assert!(e.expect_err("bad password").is_permanent());
        }
        let mail = sink.wait_for(2, Duration::from_secs(5)).await;
        assert!(mail.iter().all(|m| m.tls && m.user.as_deref() == Some("user")));
        // Without TLS the server refuses to go on.
        let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(sink.port())
            .credentials(Credentials::new("user".to_owned(), "s3cret".to_owned()))
            .build();
        assert!(plain.send(message("x", "ada@example.test")).await.is_err());
        assert_eq!(sink.messages().len(), 2);
    }

    #[tokio::test]
    async fn a_stopped_sink_refuses_connections_until_started_again() {
        let sink = MailSink::start().await;
        let port = sink.port();
        sink.stop();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(port).build();
        let deadline = Instant::now() + Duration::from_secs(5);
        while transport.send(message("x", "a@example.test")).await.is_ok() {
            assert!(Instant::now() < deadline, "the sink should stop listening");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let again = sink.restart().await;
        transport.send(message("Back", "a@example.test")).await.expect("sent after restart");
        assert_eq!(again.wait_for(1, Duration::from_secs(5)).await[0].subject(), "Back");
        again.reject("nobody@example.test");
        let e = transport.send(message("x", "nobody@example.test")).await.expect_err("rejected");
        assert!(e.is_permanent(), "{e}");
    }
}
