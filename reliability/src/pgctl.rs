//! Stopping and starting the local PostgreSQL cluster the tests run on (the one
//! `scripts/test-db.sh` starts), for the outage scenario.
//!
//! Everything is found from the database itself: `data_directory` (superuser), the
//! postmaster's pid in `postmaster.pid` and its binary through `/proc`, the options it was
//! started with in `postmaster.opts`. When run as root, `pg_ctl` runs as the data directory's
//! owner.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::{Connection, PgConnection};

/// How to stop and start the cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    data_dir: PathBuf,
    pg_ctl: PathBuf,
    options: String,
    owner: Option<String>,
}

impl Cluster {
    /// Finds the cluster behind `url`; an error saying why when it is not a local one this
    /// process can control.
    pub async fn find(url: &str) -> Result<Cluster, String> {
        let mut conn = PgConnection::connect(url)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let data_dir: String = sqlx::query_scalar("select current_setting('data_directory')")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("read data_directory (superuser only): {e}"))?;
        conn.close().await.ok();
        let data_dir = PathBuf::from(data_dir);
        let pid_text = std::fs::read_to_string(data_dir.join("postmaster.pid"))
            .map_err(|e| format!("read postmaster.pid in {}: {e}", data_dir.display()))?;
        let pid = pid_text
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let postgres = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map_err(|e| format!("find the postmaster's binary: {e}"))?;
        let pg_ctl = postgres
            .parent()
            .ok_or("the postgres binary has no directory")?
            .join("pg_ctl");
        if !pg_ctl.is_file() {
            return Err(format!("no pg_ctl next to {}", postgres.display()));
        }
        let opts = std::fs::read_to_string(data_dir.join("postmaster.opts"))
            .map_err(|e| format!("read postmaster.opts: {e}"))?;
        Ok(Cluster {
            options: start_options(&opts),
            owner: owner_if_root(&data_dir),
            data_dir,
            pg_ctl,
        })
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let mut cmd = match &self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&self.pg_ctl);
                c
            }
            None => Command::new(&self.pg_ctl),
        };
        cmd.current_dir("/")
            .arg("--pgdata")
            .arg(&self.data_dir)
            .args(args);
        let out = cmd.output().map_err(|e| format!("run pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Stops the cluster (fast mode: open sessions are cut) and waits until it is down.
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["--mode=fast", "--wait", "--silent", "stop"])
    }

    /// Starts the cluster with the options it had and waits until it accepts connections.
    pub fn start(&self) -> Result<(), String> {
        let log = self.data_dir.join("server.log");
        let log = log.to_string_lossy().into_owned();
        self.pg_ctl(&[
            "--wait",
            "--timeout=60",
            "--silent",
            "--log",
            &log,
            "-o",
            &self.options,
            "start",
        ])
    }

    /// Whether the cluster is running.
    pub fn running(&self) -> bool {
        self.pg_ctl(&["status"]).is_ok()
    }
}

/// The postmaster's arguments after the binary, without `-D <dir>` (pg_ctl adds it), still
/// quoted as `postmaster.opts` has them (pg_ctl hands `-o` to a shell).
fn start_options(opts: &str) -> String {
    let line = opts.lines().next().unwrap_or_default();
    let mut args: Vec<&str> = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        args.push(&after[..end]);
        rest = &after[end + 1..];
    }
    let mut out = Vec::new();
    let mut skip = false;
    for arg in args {
        if skip {
            skip = false;
            continue;
        }
        if arg == "-D" {
            skip = true;
            continue;
        }
        out.push(format!("'{}'", arg.replace('\'', "'\\''")));
    }
    out.join(" ")
}

fn owner_if_root(dir: &Path) -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return None;
    }
    let out = Command::new("stat")
        .arg("-c")
        .arg("%U")
        .arg(dir)
        .output()
        .ok()?;
    let user = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!user.is_empty() && user != "root").then_some(user)
}

/// Starts the cluster again when dropped, so a failing test does not leave it down.
#[derive(Debug)]
pub struct RestartGuard(pub Cluster);

impl Drop for RestartGuard {
    fn drop(&mut self) {
        if !self.0.running() {
            let _ = self.0.start();
        }
    }
}
