//! Firebreak's own PostgreSQL, used when `DATABASE_URL` is not set: a cluster in
//! the data folder, made with the installed server binaries (`initdb`, `pg_ctl`),
//! listening on a Unix socket in that folder only (no TCP port).
//!
//! Layout of the data folder:
//! - `postgres/` the cluster (mode 0700, owned by the user PostgreSQL runs as);
//! - `run/` its socket and its log (mode 0700, same owner), so only that user
//!   (and root) can connect, which is why local connections need no password;
//! - `cluster.lock`, `users.lock` the locks below.
//!
//! Every Firebreak process that uses the cluster (the server, `user add`,
//! `migrate`, ...) holds a shared lock on `users.lock` for as long as it runs.
//! Starting and stopping happen under an exclusive `cluster.lock`; the last user
//! out (the one that can turn its shared lock into an exclusive one) stops the
//! server. So a command run beside a running server uses that server and leaves
//! it running, and a server left behind by a `kill -9` (the kernel drops its locks,
//! PostgreSQL keeps running) is found through its `postmaster.pid` and reused.
//!
//! PostgreSQL refuses to run as root. When Firebreak runs as root the server
//! runs as the `postgres` user (or `nobody`), its two folders chowned to it.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::Context;

/// The database Firebreak uses inside its cluster, and the cluster's superuser.
const DATABASE: &str = "firebreak";
const SUPERUSER: &str = "firebreak";

/// Unix socket paths are limited to 107 bytes (104 on macOS), the
/// `/.s.PGSQL.5432` PostgreSQL adds included.
const MAX_SOCKET_DIR_LEN: usize = 90;

/// The connection URL of the embedded cluster kept in `data_dir` (absolute).
/// A pure function of the folder, so settings can be checked before anything starts.
pub fn database_url(data_dir: &Path) -> String {
    let socket_dir = data_dir.join("run");
    format!("postgres:///{DATABASE}?host={}&user={SUPERUSER}", percent_encode(&socket_dir.to_string_lossy()))
}

/// Percent-encoding that libpq and tokio-postgres both decode (no `+` for space).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Why the embedded cluster cannot be used; each says what to do in one line.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found: install PostgreSQL \
         (e.g. `apt-get install postgresql`, `dnf install postgresql-server` or `brew install postgresql`), \
         set PG_BIN to the folder holding them, or set DATABASE_URL to use a PostgreSQL server of your own"
    )]
    NotFound,
    #[error("PG_BIN is {0:?}, which holds no initdb and pg_ctl: point it at PostgreSQL's bin folder, or unset it")]
    BadPgBin(PathBuf),
    #[error(
        "PostgreSQL refuses to run as root, so Firebreak runs it as user {user}, who cannot enter {folder:?}: \
         set FIREBREAK_DATA to a folder {user} can reach (e.g. /var/lib/firebreak), or run Firebreak as a normal user"
    )]
    Unreachable { user: String, folder: PathBuf },
    #[error(
        "PostgreSQL refuses to run as root and neither a `postgres` nor a `nobody` user exists to run it as: \
         run Firebreak as a normal user, or set DATABASE_URL"
    )]
    NoUnprivilegedUser,
    #[error("FIREBREAK_DATA is {0:?}, too long a path for PostgreSQL's socket: choose a shorter folder")]
    PathTooLong(PathBuf),
}

/// Where PostgreSQL's server programs are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub bin_dir: PathBuf,
}

impl Binaries {
    fn program(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    fn holds_server(dir: &Path) -> bool {
        ["initdb", "pg_ctl", "postgres"].iter().all(|p| dir.join(p).is_file())
    }

    /// `PG_BIN`, then `pg_config --bindir`, then the usual install folders
    /// (newest version first), then `PATH`.
    pub fn find(pg_bin: Option<&Path>) -> Result<Binaries, EmbeddedError> {
        if let Some(dir) = pg_bin {
            return if Self::holds_server(dir) {
                Ok(Binaries { bin_dir: dir.to_owned() })
            } else {
                Err(EmbeddedError::BadPgBin(dir.to_owned()))
            };
        }
        let from_pg_config = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
        let candidates = from_pg_config
            .into_iter()
            .chain(versioned_dirs(Path::new("/usr/lib/postgresql"), "", "bin"))
            .chain(versioned_dirs(Path::new("/usr"), "pgsql-", "bin"))
            .chain(versioned_dirs(Path::new("/opt/homebrew/opt"), "postgresql@", "bin"))
            .chain(versioned_dirs(Path::new("/usr/local/opt"), "postgresql@", "bin"))
            .chain(["/opt/homebrew/opt/postgresql/bin", "/usr/local/opt/postgresql/bin"].map(PathBuf::from))
            .chain(path_dirs.unwrap_or_default());
        first_server_dir(candidates)
    }
}

fn first_server_dir(candidates: impl IntoIterator<Item = PathBuf>) -> Result<Binaries, EmbeddedError> {
    candidates
        .into_iter()
        .find(|d| Binaries::holds_server(d))
        .map(|bin_dir| Binaries { bin_dir })
        .ok_or(EmbeddedError::NotFound)
}

/// `<parent>/<prefix><version>/<sub>` for every version found, newest first
/// (`/usr/lib/postgresql/17/bin` before `/usr/lib/postgresql/9.6/bin`).
fn versioned_dirs(parent: &Path, prefix: &str, sub: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(parent) else { return Vec::new() };
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix(prefix)?;
            let key: Vec<u32> = version.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            Some((key, e.path().join(sub)))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, p)| p).collect()
}

/// The user PostgreSQL runs as when we are root.
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

fn current_uid() -> anyhow::Result<u32> {
    let out = Command::new("id").arg("-u").output().context("cannot run `id -u`")?;
    String::from_utf8_lossy(&out.stdout).trim().parse().context("`id -u` printed no number")
}

fn lookup_user(passwd: &str, name: &str) -> Option<RunAs> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 4 && f[0] == name)
            .then(|| Some(RunAs { name: name.to_owned(), uid: f[2].parse().ok()?, gid: f[3].parse().ok()? }))?
    })
}

/// Whether `user` may enter every folder above `dir` (and `dir` itself).
fn first_unreachable(dir: &Path, user: &RunAs) -> Option<PathBuf> {
    dir.ancestors().find_map(|a| {
        let meta = fs::metadata(a).ok()?;
        let mode = meta.mode();
        let can_enter = mode & 0o001 != 0
            || (meta.uid() == user.uid && mode & 0o100 != 0)
            || (meta.gid() == user.gid && mode & 0o010 != 0);
        (!can_enter).then(|| a.to_owned())
    })
}

/// One process's use of the embedded cluster. While it lives the server runs;
/// dropping it stops the server unless another Firebreak process still uses it.
#[derive(Debug)]
pub struct Cluster {
    bin: Binaries,
    data_dir: PathBuf,
    run_as: Option<RunAs>,
    /// Shared while we use the cluster (see the module documentation).
    users_lock: File,
    url: String,
}

impl Cluster {
    /// Makes the cluster on first use, starts its server unless it runs
    /// already, and creates the database. Blocking.
    pub fn start(data_dir: &Path, pg_bin: Option<&Path>) -> anyhow::Result<Cluster> {
        let bin = Binaries::find(pg_bin)?;
        fs::create_dir_all(data_dir).with_context(|| format!("cannot create the data folder {data_dir:?}"))?;
        let data_dir = fs::canonicalize(data_dir)?;
        if data_dir.join("run").as_os_str().len() > MAX_SOCKET_DIR_LEN {
            return Err(EmbeddedError::PathTooLong(data_dir).into());
        }
        let run_as = if current_uid()? == 0 {
            let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
            let user = lookup_user(&passwd, "postgres")
                .or_else(|| lookup_user(&passwd, "nobody"))
                .ok_or(EmbeddedError::NoUnprivilegedUser)?;
            // Our own folder: let the server's user through it.
            fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o755))?;
            if let Some(folder) = first_unreachable(&data_dir, &user) {
                return Err(EmbeddedError::Unreachable { user: user.name, folder }.into());
            }
            Some(user)
        } else {
            None
        };
        let users_lock = open_lock(&data_dir.join("users.lock"))?;
        let cluster_lock = open_lock(&data_dir.join("cluster.lock"))?;
        cluster_lock.lock()?;
        users_lock.lock_shared()?;
        let url = database_url(&data_dir);
        let cluster = Cluster { bin, data_dir, run_as, users_lock, url };
        cluster.init_if_needed()?;
        cluster.start_if_stopped()?;
        drop(cluster_lock);
        crate::db::ensure_database_exists(&cluster.url)?;
        Ok(cluster)
    }

    /// The URL to connect with (Unix socket, no password).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn cluster_dir(&self) -> PathBuf {
        self.data_dir.join("postgres")
    }

    fn run_dir(&self) -> PathBuf {
        self.data_dir.join("run")
    }

    /// A folder only the server's user may use.
    fn private_dir(&self, dir: &Path) -> anyhow::Result<()> {
        if !dir.exists() {
            fs::create_dir(dir).with_context(|| format!("cannot create {dir:?}"))?;
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))
                .with_context(|| format!("cannot hand {dir:?} to user {}", user.name))?;
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.program(program));
        // The server's user may not be allowed into our working directory.
        cmd.current_dir(self.run_dir()).env_remove("PGDATA").env("LC_ALL", "C");
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }

    fn init_if_needed(&self) -> anyhow::Result<()> {
        self.private_dir(&self.run_dir())?;
        if self.cluster_dir().join("PG_VERSION").exists() {
            return Ok(());
        }
        // initdb into a side folder, renamed when complete: a start interrupted
        // half-way leaves nothing that looks like a cluster.
        let fresh = self.data_dir.join("postgres.initdb");
        if fresh.exists() {
            fs::remove_dir_all(&fresh)?;
        }
        self.private_dir(&fresh)?;
        tracing::info!(folder = %self.data_dir.display(), "creating Firebreak's PostgreSQL cluster (first start)");
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(&fresh)
            .args([&format!("--username={SUPERUSER}"), "--encoding=UTF8", "--no-locale"])
            .args(["--auth-local=trust", "--auth-host=reject"])
            .output()
            .context("cannot run initdb")?;
        check("initdb", &out)?;
        fs::rename(&fresh, self.cluster_dir())?;
        Ok(())
    }

    fn is_running(&self) -> anyhow::Result<bool> {
        let out = self.command("pg_ctl").arg("status").arg("-D").arg(self.cluster_dir()).output()?;
        Ok(out.status.success())
    }

    fn start_if_stopped(&self) -> anyhow::Result<()> {
        let socket = self.run_dir().join(".s.PGSQL.5432");
        if self.is_running()? {
            if socket.exists() {
                tracing::info!("using the PostgreSQL server already running in the data folder");
                return Ok(());
            }
            // Left running with other options (e.g. before the folder moved).
            tracing::info!("restarting the PostgreSQL server found in the data folder");
            self.stop()?;
        }
        let run = self.run_dir();
        let options = format!("-h '' -k {}", shell_quote(&run.to_string_lossy()));
        let out = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "120", "-D"])
            .arg(self.cluster_dir())
            .arg("-l")
            .arg(run.join("postgres.log"))
            .arg("-o")
            .arg(options)
            .output()
            .context("cannot run pg_ctl")?;
        if let Err(e) = check("pg_ctl start", &out) {
            let log = fs::read_to_string(run.join("postgres.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return Err(e.context(format!("see {:?}: {}", run.join("postgres.log"), tail.join(" / "))));
        }
        tracing::info!("started Firebreak's PostgreSQL server");
        Ok(())
    }

    fn stop(&self) -> anyhow::Result<()> {
        let out = self
            .command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-t", "60", "-D"])
            .arg(self.cluster_dir())
            .output()
            .context("cannot run pg_ctl")?;
        check("pg_ctl stop", &out)
    }

    /// Stops the server unless another process still uses it.
    fn release(&self) -> anyhow::Result<()> {
        let cluster_lock = open_lock(&self.data_dir.join("cluster.lock"))?;
        cluster_lock.lock()?;
        self.users_lock.unlock()?;
        match self.users_lock.try_lock() {
            // A start that failed half-way may have left nothing running.
            Ok(()) if !self.is_running()? => {}
            Ok(()) => {
                self.stop()?;
                tracing::info!("stopped Firebreak's PostgreSQL server");
            }
            Err(_) => tracing::info!("another Firebreak process uses the PostgreSQL server: leaving it running"),
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            eprintln!("firebreak: could not stop the embedded PostgreSQL server: {e:#}");
        }
    }
}

fn open_lock(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open {path:?}"))
}

fn check(what: &str, out: &Output) -> anyhow::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let text = if stderr.trim().is_empty() { stdout } else { stderr };
    anyhow::bail!("{what} failed ({}): {}", out.status, text.trim().replace('\n', " / "))
}

/// For `pg_ctl -o`, which hands its options to the shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_socket_folder_and_no_tcp_host() {
        let url = database_url(Path::new("/srv/fire break"));
        assert_eq!(url, "postgres:///firebreak?host=%2Fsrv%2Ffire%20break%2Frun&user=firebreak");
    }

    #[test]
    fn newer_versions_come_first() {
        let root = std::env::temp_dir().join(format!("firebreak-versions-{}", std::process::id()));
        for v in ["9.6", "15", "17", "notaversion"] {
            fs::create_dir_all(root.join(v).join("bin")).expect("mkdir");
        }
        let found = versioned_dirs(&root, "", "bin");
        let _ = fs::remove_dir_all(&root);
        let names: Vec<String> = found
            .iter()
            .map(|p| {
                p.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            })
            .collect();
        assert_eq!(names, ["17", "15", "9.6"]);
    }

    #[test]
    fn no_server_programs_anywhere_is_one_line_saying_what_to_do() {
        let e = first_server_dir([PathBuf::from("/nonexistent/bin")]).expect_err("nothing there");
        let line = e.to_string();
        assert!(!line.contains('\n'));
        assert!(line.contains("install PostgreSQL") && line.contains("PG_BIN") && line.contains("DATABASE_URL"));
    }

    #[test]
    fn users_are_found_in_the_password_file() {
        let passwd = "root:x:0:0::/root:/bin/sh\npostgres:x:101:104:PostgreSQL:/var/lib/postgresql:/bin/bash\n";
        let u = lookup_user(passwd, "postgres").expect("found");
        assert_eq!((u.uid, u.gid), (101, 104));
        assert!(lookup_user(passwd, "nobody").is_none());
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
