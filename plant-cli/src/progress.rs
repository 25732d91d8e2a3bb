//! Progress and notes on standard error, so that standard output carries only results.
//!
//! On a terminal a step updates one line in place; otherwise (a log, a CI job) each step prints
//! one line when it ends, so logs stay short.

use std::io::{IsTerminal, Write};

/// Prints a note on standard error. A failing standard error is ignored: the note is not worth
/// failing the command for.
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "plant-cli: {line}");
}

/// A line-based progress display for counted steps.
#[derive(Debug)]
pub struct Progress {
    terminal: bool,
    open: bool,
}

impl Progress {
    /// A display on standard error.
    pub fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            open: false,
        }
    }

    /// Reports `done` of `total` items of `step`.
    pub fn update(&mut self, step: &str, done: usize, total: usize) {
        let mut err = std::io::stderr();
        let finished = done >= total;
        if self.terminal {
            let _ = write!(err, "\r  {step}: {done}/{total}\x1b[K");
            if finished {
                let _ = writeln!(err);
            }
            self.open = !finished;
        } else if finished {
            let _ = writeln!(err, "  {step}: {done}/{total}");
        }
        let _ = err.flush();
    }

    /// Ends an unfinished in-place line, if any.
    pub fn finish(&mut self) {
        if self.open {
            let _ = writeln!(std::io::stderr());
            self.open = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
