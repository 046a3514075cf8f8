//! The built binary without DATABASE_URL: its own PostgreSQL in a temporary
//! data folder (one per test), started, reused and stopped by Firebreak.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::location;

pub fn firebreak_bin() -> &'static str {
    env!("CARGO_BIN_EXE_firebreak")
}

/// A temporary data folder, removed at the end (its server stopped if a test failed half-way).
pub struct DataFolder(pub PathBuf);

impl DataFolder {
    pub fn new() -> DataFolder {
        let dir = std::env::temp_dir().join(format!("fb-pg-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
        std::fs::create_dir_all(&dir).expect("create the data folder");
        DataFolder(dir)
    }

    /// The command, its environment cleared of anything pointing elsewhere.
    pub fn firebreak(&self) -> Command {
        let mut cmd = Command::new(firebreak_bin());
        cmd.env_remove("DATABASE_URL")
            .env_remove("PG_BIN")
            .env("FIREBREAK_DATA", &self.0)
            .env("MAIL_DIR", self.0.join("mail"))
            .env("WORKERS", "1")
            .env("RUST_LOG", "info");
        cmd
    }

    /// The PID in the cluster's postmaster.pid, when there is one.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.0.join("postgres/postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

impl Drop for DataFolder {
    fn drop(&mut self) {
        if let Some(pid) = self.postmaster_pid() {
            let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
            wait_until(Duration::from_secs(20), || !process_alive(pid));
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn process_alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped by its parent) is not running.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'),
        Err(_) => false,
    }
}

pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// A running `firebreak serve`, killed if the test ends without stopping it.
pub struct Server {
    pub child: Child,
    pub address: String,
    /// From spawn to the "ready" line.
    pub time_to_ready: Duration,
}

impl Server {
    pub fn start(mut cmd: Command) -> Server {
        let started = Instant::now();
        let mut child = cmd
            .env("BIND", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start firebreak");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("Firebreak is ready at ") {
                    let _ = tx.send(url.trim_end_matches('/').to_owned());
                }
            }
        });
        let address = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("firebreak did not say it was ready within 120 s: {:?}", child.wait());
            }
        };
        Server { child, address, time_to_ready: started.elapsed() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal}");
    }

    /// Waits for the process to end and returns its exit status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "firebreak did not stop within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn browser(&self) -> crate::helpers::Browser {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("client");
        crate::helpers::Browser { client, address: self.address.clone() }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Proportional set size of a process in KiB (Linux): its private memory plus its
/// share of what it shares, so PostgreSQL's processes add up without counting
/// their shared buffers once per process.
pub fn pss_kib(pid: u32) -> u64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Memory of PostgreSQL (the postmaster and all its children) in KiB.
pub fn postgres_pss_kib(postmaster: u32) -> u64 {
    let mut total = pss_kib(postmaster);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let ppid = stat.rsplit(") ").next().and_then(|rest| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(postmaster) {
            total += pss_kib(pid);
        }
    }
    total
}

fn add_user(data: &DataFolder, email: &str, password: &str) {
    let out = data
        .firebreak()
        .args(["user", "add", "--email", email, "--name", "Embedded Admin", "--role", "admin"])
        .env("FIREBREAK_PASSWORD", password)
        .output()
        .expect("run firebreak user add");
    assert!(out.status.success(), "user add: {}", String::from_utf8_lossy(&out.stderr));
}

fn assert_stopped_cleanly(data: &DataFolder, postmaster: u32) {
    assert!(
        wait_until(Duration::from_secs(10), || !process_alive(postmaster)),
        "PostgreSQL (pid {postmaster}) is still running after Firebreak stopped"
    );
    assert!(!data.0.join("postgres/postmaster.pid").exists(), "postmaster.pid is left behind");
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn cluster_folder_is_private(dir: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for sub in ["postgres", "run"] {
        let meta = std::fs::metadata(dir.join(sub)).expect("folder exists");
        assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{sub} is private to PostgreSQL's user");
        if running_as_root() {
            assert_ne!(meta.uid(), 0, "as root, {sub} belongs to the unprivileged user PostgreSQL runs as");
        }
    }
}

#[tokio::test]
async fn a_first_start_without_database_url_reaches_the_setup_page_and_sigterm_stops_its_postgres() {
    let data = DataFolder::new();
    let mut server = Server::start(data.firebreak());
    let browser = server.browser();
    let response = browser.get("/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/setup");
    assert!(browser.page("/setup").await.contains("Create admin account"));
    cluster_folder_is_private(&data.0);
    let postmaster = data.postmaster_pid().expect("PostgreSQL runs in the data folder");
    // Unix socket only: no TCP port of its own.
    let opts = std::fs::read_to_string(data.0.join("postgres/postmaster.opts")).expect("postmaster.opts");
    assert!(opts.contains("\"-h\" \"\""), "{opts}");

    let first_ready = server.time_to_ready;
    let memory = (pss_kib(server.pid()), postgres_pss_kib(postmaster));
    server.signal("TERM");
    assert!(server.wait().success());
    assert_stopped_cleanly(&data, postmaster);

    let mut again = Server::start(data.firebreak());
    let postmaster = data.postmaster_pid().expect("running again");
    eprintln!(
        "embedded: first start ready in {:?}, later start in {:?}; memory (PSS) firebreak {} KiB, postgres {} KiB",
        first_ready, again.time_to_ready, memory.0, memory.1
    );
    again.signal("INT");
    assert!(again.wait().success());
    assert_stopped_cleanly(&data, postmaster);
}

#[tokio::test]
async fn a_user_added_with_the_cli_can_sign_in_and_is_still_there_after_a_restart() {
    let data = DataFolder::new();
    // Nothing runs yet: the command starts the cluster and stops it when done.
    add_user(&data, "first@example.test", "correct horse battery");
    assert!(data.postmaster_pid().is_none(), "user add stopped the server it started");

    let mut server = Server::start(data.firebreak());
    // Beside a running server the command uses it and leaves it running.
    add_user(&data, "second@example.test", "another good password");
    server.browser().sign_in("first@example.test", "correct horse battery").await;
    let postmaster = data.postmaster_pid().expect("still running for the server");
    server.signal("TERM");
    assert!(server.wait().success());
    assert_stopped_cleanly(&data, postmaster);

    let mut server = Server::start(data.firebreak());
    let browser = server.browser();
    browser.sign_in("second@example.test", "another good password").await;
    assert_eq!(browser.get("/").await.status(), StatusCode::OK, "signed in, past the setup page");
    server.signal("TERM");
    assert!(server.wait().success());
}

#[tokio::test]
async fn after_kill_9_the_next_start_finds_the_orphaned_postgres_and_works() {
    let data = DataFolder::new();
    add_user(&data, "kept@example.test", "survives a crash");
    let mut server = Server::start(data.firebreak());
    let orphan = data.postmaster_pid().expect("running");
    server.signal("KILL");
    server.wait();
    assert!(process_alive(orphan), "PostgreSQL outlives a kill -9 of Firebreak");

    let mut server = Server::start(data.firebreak());
    server.browser().sign_in("kept@example.test", "survives a crash").await;
    let postmaster = data.postmaster_pid().expect("running");
    server.signal("TERM");
    assert!(server.wait().success());
    assert_stopped_cleanly(&data, postmaster);
    assert!(!process_alive(orphan));
}

#[test]
fn without_postgresql_start_up_says_in_one_line_what_to_install_or_set() {
    let data = DataFolder::new();
    let empty = data.0.join("empty-bin");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = data.firebreak().env("PG_BIN", &empty).output().expect("run firebreak");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("firebreak:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("PG_BIN"), "{stderr}");
    assert!(data.postmaster_pid().is_none());
}

#[test]
fn the_binary_does_not_need_libpq_where_it_runs() {
    let out = Command::new("ldd").arg(firebreak_bin()).output().expect("run ldd");
    let libs = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ldd failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(libs.contains("libc"), "ldd lists the C library: {libs}");
    assert!(!libs.contains("libpq"), "the binary links libpq dynamically:\n{libs}");
}

#[test]
fn as_root_a_data_folder_postgresql_cannot_reach_is_refused_in_one_line() {
    use std::os::unix::fs::PermissionsExt;
    if !running_as_root() {
        eprintln!("not running as root: nothing to check");
        return;
    }
    let data = DataFolder::new();
    let private = data.0.join("private");
    std::fs::create_dir_all(&private).expect("mkdir");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let out = data.firebreak().env("FIREBREAK_DATA", private.join("data")).output().expect("run firebreak");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("firebreak:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("refuses to run as root") && lines[0].contains("FIREBREAK_DATA"), "{stderr}");
}

/// The path most people take: Firebreak started by an ordinary user runs its
/// PostgreSQL as that same user. The suite usually runs as root, so this runs
/// the binary as `nobody` (uid 65534) through util-linux's `setpriv`.
#[tokio::test]
async fn an_ordinary_user_gets_a_cluster_of_their_own_without_any_user_switching() {
    use std::os::unix::fs::MetadataExt;
    let data = DataFolder::new();
    let mut cmd = if running_as_root() {
        if Command::new("setpriv").arg("--version").output().is_err() {
            eprintln!("SKIPPED: setpriv (util-linux) is not installed");
            return;
        }
        std::os::unix::fs::chown(&data.0, Some(65534), Some(65534)).expect("give the folder to nobody");
        let inner = data.firebreak();
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(firebreak_bin());
        for (key, value) in inner.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd.env("HOME", &data.0);
        cmd
    } else {
        data.firebreak()
    };
    cmd.current_dir(&data.0);
    let mut server = Server::start(cmd);
    let response = server.browser().get("/").await;
    assert_eq!(location(&response), "/setup", "the first start reaches the setup page");
    let postmaster = data.postmaster_pid().expect("PostgreSQL runs in the data folder");
    let owner = std::fs::metadata(data.0.join("postgres")).expect("cluster").uid();
    let me = std::fs::metadata(format!("/proc/{}", server.pid())).expect("firebreak's process").uid();
    assert_eq!(owner, me, "the cluster belongs to the user who started Firebreak");
    let postgres_uid = std::fs::metadata(format!("/proc/{postmaster}")).expect("postgres process").uid();
    assert_eq!(postgres_uid, me, "PostgreSQL runs as that user too");
    server.signal("TERM");
    assert!(server.wait().success());
    assert_stopped_cleanly(&data, postmaster);
}
