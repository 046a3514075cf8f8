//! A TCP proxy in front of the test PostgreSQL server that a test can cut (every
//! connection closed, new ones refused) or freeze (connections stay open, no
//! byte passes, as when the postgres processes get SIGSTOP) and restore, so
//! tests can take "the database" away without touching the shared server.
//!
//! ```ignore
//! let proxy = DbProxy::start().await;
//! let app = spawn_app_with(|s| proxy.route(s)).await; // the app reaches its database through the proxy
//! proxy.freeze(); proxy.cut(); proxy.restore();
//! ```

use std::sync::Arc;

use firebreak::config::Settings;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Open,
    Frozen,
    Cut,
}

pub struct DbProxy {
    port: u16,
    mode: Arc<watch::Sender<Mode>>,
    accept: tokio::task::AbortHandle,
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.mode.send_replace(Mode::Cut);
    }
}

impl DbProxy {
    /// Forwards to the test server (127.0.0.1:5432 unless TEST_DATABASE_SERVER says otherwise).
    pub async fn start() -> DbProxy {
        let upstream = url::Url::parse(&crate::helpers::server_url()).expect("server url");
        let target = format!("{}:{}", upstream.host_str().unwrap_or("127.0.0.1"), upstream.port().unwrap_or(5432));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let mode = Arc::new(watch::Sender::new(Mode::Open));
        let accept = tokio::spawn(accept_loop(listener, target, Arc::clone(&mode))).abort_handle();
        DbProxy { port, mode, accept }
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("database url");
        url.set_host(Some("127.0.0.1")).expect("host");
        url.set_port(Some(self.port)).expect("port");
        url.to_string()
    }

    /// Points the app's settings at the proxy.
    pub fn route(&self, settings: &mut Settings) {
        let proxied = self.url_for(settings.database_url.expose_secret());
        settings.database_url = SecretString::from(proxied);
    }

    pub fn freeze(&self) {
        self.mode.send_replace(Mode::Frozen);
    }

    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    pub fn restore(&self) {
        self.mode.send_replace(Mode::Open);
    }
}

async fn accept_loop(listener: TcpListener, target: String, mode: Arc<watch::Sender<Mode>>) {
    loop {
        let Ok((client, _)) = listener.accept().await else { return };
        if *mode.borrow() == Mode::Cut {
            // Refused: closed at once.
            drop(client);
            continue;
        }
        let (target, mode) = (target.clone(), mode.subscribe());
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(&target).await else { return };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pump(client_read, server_write, mode.clone()));
            tokio::spawn(pump(server_read, client_write, mode));
        });
    }
}

/// Copies bytes one way while open, holds them while frozen, drops both ends when cut.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !wait_open(&mut mode).await {
            return;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        if !wait_open(&mut mode).await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Waits while frozen; false once cut.
async fn wait_open(mode: &mut watch::Receiver<Mode>) -> bool {
    loop {
        match *mode.borrow_and_update() {
            Mode::Open => return true,
            Mode::Cut => return false,
            Mode::Frozen => {}
        }
        if mode.changed().await.is_err() {
            return false;
        }
    }
}
