//! The log's writer: lines gathered in one buffer and written by a thread of their own.
//!
//! A request never waits on a write to stderr: its line is copied into a shared buffer under a
//! lock held only for the copy. The writing thread sleeps until the first line after its last
//! write arrives, lets lines gather for [`Limits::gather`] (or until [`Limits::write_at`] bytes
//! wait), and writes them all in one call. So a busy server makes one wake-up and one system call
//! per few milliseconds, whatever its request rate, and an idle one makes none.
//!
//! Written here rather than taken from `tracing-appender` (whose non-blocking writer this
//! replaced): that one sends each line through a channel as its own allocation and wakes its
//! thread for nearly every line, a `write` and a `sched_yield` system call per dozen requests
//! (bench/README.md); no maintained crate gathers lines on a timer. With it and the log layer's
//! reused line buffer, `bench/cpu-per-request.sh` (job roles, 12 pairs of 2 s runs beside the
//! build before) measured 23.6 µs of server CPU per request against 26.0, less in 11 of 12 pairs.
//!
//! It is not lossy: when [`Limits::max_waiting`] bytes wait, a writer blocks until the thread
//! has taken them.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// When lines are written.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long lines gather after the first one before they are written.
    pub gather: Duration,
    /// Lines are written at once when this many bytes wait.
    pub write_at: usize,
    /// A writer waits for room when this many bytes wait.
    pub max_waiting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            gather: Duration::from_millis(5),
            write_at: 64 * 1024,
            max_waiting: 8 << 20,
        }
    }
}

/// The handle lines are written through (a [`MakeWriter`] for a tracing layer).
#[derive(Debug, Clone)]
pub struct Gathering {
    shared: Arc<Shared>,
}

/// Keeps the writing thread; dropping it writes every line written before and stops the thread.
#[derive(Debug)]
pub struct WriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    limits: Limits,
    /// The thread waits here for lines.
    ready: Condvar,
    /// Writers wait here for room.
    room: Condvar,
}

#[derive(Debug, Default)]
struct State {
    lines: Vec<u8>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held left whole lines behind: carry on with them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the thread `name` writing to `out`.
pub fn start<W: Write + Send + 'static>(
    out: W,
    name: &str,
    limits: Limits,
) -> io::Result<(Gathering, WriterGuard)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        limits,
        ready: Condvar::new(),
        room: Condvar::new(),
    });
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || write_lines(&shared, out))?
    };
    Ok((
        Gathering {
            shared: shared.clone(),
        },
        WriterGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The thread: waits for a first line, lets more gather, writes them; until closed and empty.
fn write_lines<W: Write>(shared: &Shared, mut out: W) {
    let limits = shared.limits;
    let mut taken = Vec::new();
    loop {
        {
            let mut state = shared.lock();
            while state.lines.is_empty() {
                if state.closed {
                    return;
                }
                state = shared
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.lines.len() < limits.write_at && !state.closed {
                // Woken early when `write_at` bytes wait, or on close.
                state = shared
                    .ready
                    .wait_timeout(state, limits.gather)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut state.lines, &mut taken);
        }
        shared.room.notify_all();
        // A log line that cannot be written has nowhere better to go.
        let _ = out.write_all(&taken).and_then(|()| out.flush());
        taken.clear();
        // After a burst, give back what an ordinary stretch does not need.
        taken.shrink_to(limits.write_at);
    }
}

impl Write for &Gathering {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let shared = &self.shared;
        let limits = shared.limits;
        let mut state = shared.lock();
        while state.lines.len() >= limits.max_waiting && !state.closed {
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.closed {
            // Shutting down: the thread may be gone, so nothing would write this.
            return Ok(line.len());
        }
        let before = state.lines.len();
        state.lines.extend_from_slice(line);
        let after = state.lines.len();
        drop(state);
        if before == 0 || (before < limits.write_at && after >= limits.write_at) {
            shared.ready.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Gathering {
    type Writer = &'a Gathering;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
        self.shared.room.notify_all();
        if let Some(thread) = self.thread.take() {
            // The thread does not panic (its writes' errors are dropped); if it did, its lines
            // are gone either way.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Instant;

    /// What the thread wrote, and how many calls it took.
    #[derive(Clone, Default)]
    struct Capture {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicUsize>,
        /// While set, a write waits.
        held: Arc<AtomicBool>,
    }

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            while self.held.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_in_order_and_the_guard_writes_the_rest() {
        let capture = Capture::default();
        let (writer, guard) = start(capture.clone(), "test-log", Limits::default()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..20_000 {
                        (&writer)
                            .write_all(format!("{{\"t\":{t},\"n\":{n}}}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = capture.text();
        let mut next = [0; 4];
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = usize::try_from(value["t"].as_u64().unwrap()).unwrap();
            assert_eq!(value["n"].as_u64().unwrap(), next[t], "{line}");
            next[t] += 1;
        }
        assert_eq!(next, [20_000; 4]);
        // Gathered: far fewer calls than lines.
        let writes = capture.writes.load(Ordering::SeqCst);
        assert!(writes < 80_000 / 10, "{writes} writes for 80,000 lines");
    }

    #[test]
    fn a_lone_line_is_written_soon_without_waiting_for_more() {
        let capture = Capture::default();
        let (writer, _guard) = start(capture.clone(), "test-log", Limits::default()).unwrap();
        (&writer).write_all(b"alone\n").unwrap();
        let started = Instant::now();
        while capture.text().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(5), "never written");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(capture.text(), "alone\n");
    }

    #[test]
    fn a_stuck_output_holds_writers_back_and_loses_nothing() {
        let capture = Capture::default();
        capture.held.store(true, Ordering::SeqCst);
        let limits = Limits {
            gather: Duration::from_millis(1),
            write_at: 100,
            max_waiting: 1_000,
        };
        let (writer, guard) = start(capture.clone(), "test-log", limits).unwrap();
        let written = Arc::new(AtomicUsize::new(0));
        let producer = {
            let written = written.clone();
            std::thread::spawn(move || {
                for n in 0..500 {
                    (&writer).write_all(format!("{n:09}\n").as_bytes()).unwrap();
                    written.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        // The thread holds one taken buffer (stuck in its write) and at most `max_waiting`
        // bytes more wait: the producer (10-byte lines) is blocked well short of its 500.
        let before_release = written.load(Ordering::SeqCst);
        assert!(before_release < 250, "{before_release} lines went in");
        capture.held.store(false, Ordering::SeqCst);
        producer.join().unwrap();
        drop(guard);
        let expected: String = (0..500).map(|n| format!("{n:09}\n")).collect();
        assert_eq!(capture.text(), expected);
    }
}
