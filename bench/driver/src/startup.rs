//! Start-up time: from spawning a process to its first `200` on a URL.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why no time could be measured.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot start {program}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} exited before answering 200 ({status})")]
    Exited {
        program: String,
        status: std::process::ExitStatus,
    },
    #[error("{program} did not answer 200 on {addr}{path} within {timeout:?}")]
    Timeout {
        program: String,
        addr: SocketAddr,
        path: String,
        timeout: Duration,
    },
}

/// Spawns `program args`, polls `GET path` on `addr` every millisecond until a `200`, stops the
/// process, and returns the time to that answer.
pub fn measure(
    program: &str,
    args: &[String],
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<Duration, StartupError> {
    let began = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|source| StartupError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    let outcome = poll(&mut child, program, addr, path, began, timeout);
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

fn poll(
    child: &mut Child,
    program: &str,
    addr: SocketAddr,
    path: &str,
    began: Instant,
    timeout: Duration,
) -> Result<Duration, StartupError> {
    while began.elapsed() < timeout {
        if get_is_200(addr, path) {
            return Ok(began.elapsed());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(StartupError::Exited {
                program: program.to_owned(),
                status,
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(StartupError::Timeout {
        program: program.to_owned(),
        addr,
        path: path.to_owned(),
        timeout,
    })
}

/// One `GET` over a fresh connection: whether the status line says 200.
fn get_is_200(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
