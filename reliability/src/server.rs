//! `plant-server` as a child process: started on a free port, its logs captured, and stopped
//! by SIGKILL, SIGTERM, or drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bins;

/// How a server is started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `DATABASE_URL`; `None` runs the seeded in-memory catalog.
    pub database_url: Option<String>,
    /// The HS256 secret; a fresh random one when `None`.
    pub secret: Option<String>,
    /// Further variables (`PLANT_BODY_LIMIT`, `PLANT_MAX_CONNECTIONS`, …).
    pub vars: Vec<(String, String)>,
}

impl Options {
    /// In-memory catalog.
    pub fn memory() -> Self {
        Self::default()
    }

    /// The PostgreSQL catalog at `url`.
    pub fn database(url: &str) -> Self {
        Self {
            database_url: Some(url.to_owned()),
            ..Self::default()
        }
    }

    /// Shares `secret` (several instances accepting the same tokens).
    pub fn secret(mut self, secret: &str) -> Self {
        self.secret = Some(secret.to_owned());
        self
    }

    /// Sets a variable.
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A running `plant-server`.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    /// Its HS256 secret.
    pub secret: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server and waits (up to 60 s) until it listens.
    pub fn start(options: Options) -> Server {
        let secret = options.secret.clone().unwrap_or_else(crate::random_secret);
        let mut cmd = bins::clean_command(&bins::server());
        cmd.env("PORT", "0")
            .env("PLANT_JWT_SECRET", &secret)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            // The load gives each trial booking its own X-Forwarded-For, as bookings arriving
            // through one trusted proxy from many customers would look.
            .env("PLANT_FORWARDED_HOPS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(url) = &options.database_url {
            cmd.env("DATABASE_URL", url);
        }
        for (k, v) in &options.vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start plant-server");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<Option<u16>>();
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                let mut announced = false;
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if !announced && let Some(port) = listening_port(&line) {
                        announced = true;
                        let _ = tx.send(Some(port));
                    }
                    logs.lock().unwrap().push(line);
                }
                let _ = tx.send(None);
            });
        }
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(port)) => Server {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                secret,
                logs,
            },
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let logs = logs.lock().unwrap().join("\n");
                panic!("plant-server did not start listening ({other:?}); its log:\n{logs}");
            }
        }
    }

    /// Every log line so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`KILL`, `TERM`, …) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits up to `within` for the process to exit; its exit status, or `None` if it did not.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The port of a `listening` log line (`"addr":"0.0.0.0:41234"`).
fn listening_port(line: &str) -> Option<u16> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let text = value.to_string();
    if !text.contains("listening") {
        return None;
    }
    let addr = find_addr(&value)?;
    addr.parse::<SocketAddr>().ok().map(|a| a.port())
}

fn find_addr(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s.parse::<SocketAddr>().is_ok() => Some(s.clone()),
        serde_json::Value::Object(map) => map.values().find_map(find_addr),
        serde_json::Value::Array(items) => items.iter().find_map(find_addr),
        _ => None,
    }
}
