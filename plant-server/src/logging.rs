//! Log set-up: JSON lines in Cloud Logging's structured shape, or human-readable lines on a terminal.
//!
//! A JSON line carries `severity`, `message`, `time`, `target`, the event's fields, the fields of
//! every enclosing span (so each line inside a request names its `correlation_id`), and
//! `logging.googleapis.com/trace` / `spanId` / `trace_sampled` when the request came with
//! `X-Cloud-Trace-Context` and a project id is configured.

use std::cell::Cell;
use std::io::{IsTerminal, Write};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

pub mod writer;

/// Installs the global subscriber. Call once, at start-up, and keep the guard until the process
/// ends: dropping it writes out the lines still waiting.
///
/// Lines are written to stderr by a thread of their own (see [`writer`]), so a request never
/// waits on a write to stderr and a busy server writes many lines per system call. It is not
/// lossy: when 8 MiB of lines wait, a request waits for room rather than a line being dropped.
pub fn init(format: LogFormat, gcp_project: Option<String>) -> Result<LogGuard, LoggingError> {
    // Without RUST_LOG the filter is a plain level: EnvFilter takes a lock on every span entry
    // and exit (it tracks spans for per-span directives), which a request enters many times.
    let (directives, level) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (Some(filter), None),
        Err(_) => (None, Some(LevelFilter::INFO)),
    };
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let (writer, guard) = writer::start(std::io::stderr(), "plant-log", writer::Limits::default())
        .map_err(LoggingError::Thread)?;
    let registry = tracing_subscriber::registry().with(directives).with(level);
    if json {
        registry
            .with(CloudLoggingLayer::new(writer, gcp_project))
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_writer(writer))
            .try_init()
    }
    .map_err(LoggingError::Install)?;
    Ok(LogGuard { _writer: guard })
}

/// Keeps the log thread running; dropping it writes out every waiting line.
#[must_use = "dropping the guard stops the log thread"]
#[derive(Debug)]
pub struct LogGuard {
    _writer: writer::WriterGuard,
}

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log thread could not be started.
    #[error("cannot start the log thread")]
    Thread(#[source] std::io::Error),
    /// The global subscriber could not be installed (one already was).
    #[error("cannot install the log subscriber")]
    Install(#[source] tracing_subscriber::util::TryInitError),
}

/// A layer writing one Cloud Logging JSON object per event.
#[derive(Debug)]
pub struct CloudLoggingLayer<W> {
    make_writer: W,
    gcp_project: Option<String>,
}

impl<W> CloudLoggingLayer<W> {
    /// A layer writing to `make_writer`; `gcp_project` turns trace ids into Cloud Trace names.
    pub fn new(make_writer: W, gcp_project: Option<String>) -> Self {
        Self {
            make_writer,
            gcp_project,
        }
    }
}

/// Named values in the order they were first recorded; a later value for a name replaces the
/// earlier one. A handful per line, so a vector beats a map (no key allocations, no tree).
#[derive(Default)]
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn set(&mut self, name: &'static str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

/// Fields recorded on a span, kept in its extensions.
struct SpanFields(Fields);

struct JsonVisitor<'a>(&'a mut Fields);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.set(field.name(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set(field.name(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.set(field.name(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set(field.name(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set(field.name(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.set(field.name(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.set(field.name(), Value::from(format!("{value:?}")));
    }
}

/// Appends `"key":value` (with a leading comma unless it is the first member) to a JSON object
/// being written by hand.
fn member(out: &mut Vec<u8>, key: &str, value: &(impl serde::Serialize + ?Sized)) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    // Keys are field names, nearly always identifiers: those are written as they are, the
    // rare one that JSON must escape goes through serde_json.
    if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.push(b'"');
    } else {
        // Writing JSON into a Vec only fails for values that cannot be JSON (none here).
        let _ = serde_json::to_writer(&mut *out, key);
    }
    out.push(b':');
    // As above: a Vec takes every write.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

impl<S, W> Layer<S> for CloudLoggingLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut fields = Fields::default();
            attrs.record(&mut JsonVisitor(&mut fields));
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
                values.record(&mut JsonVisitor(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        // The thread's buffers, taken (an event logged while this one is written finds none
        // and makes its own) and given back once the line is written.
        let scratch = SCRATCH.take();
        let mut line = Line {
            out: scratch.out,
            written: scratch.written,
            gcp_project: self.gcp_project.as_deref(),
        };
        line.out.push(b'{');
        member(&mut line.out, "severity", &severity(metadata.level()));
        member(&mut line.out, "time", &plant_core::Timestamp::now());
        member(&mut line.out, "target", &metadata.target());
        // The event's own fields first, written as they are visited (no copies); then the
        // spans', innermost first. A name already written is skipped, so the event's value wins
        // over a span's and an inner span's over an outer one's.
        event.record(&mut Direct(&mut line));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    for (name, value) in &fields.0 {
                        line.put(name, value, value.as_str());
                    }
                }
            }
        }
        if !line.written.contains(&"message") {
            member(&mut line.out, "message", &"");
        }
        line.out.extend_from_slice(b"}\n");
        // A log line that cannot be written has nowhere better to go.
        let _ = self.make_writer.make_writer().write_all(&line.out);
        if line.out.capacity() <= MAX_KEPT_LINE {
            line.out.clear();
            line.written.clear();
            SCRATCH.set(Scratch {
                out: line.out,
                written: line.written,
            });
        }
    }
}

/// A line buffer larger than this (a line with a long field) is not kept for the next line.
const MAX_KEPT_LINE: usize = 16 * 1024;

/// A thread's buffers for the lines it writes, kept from one line to the next.
#[derive(Default)]
struct Scratch {
    out: Vec<u8>,
    written: Vec<&'static str>,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = const {
        Cell::new(Scratch {
            out: Vec::new(),
            written: Vec::new(),
        })
    };
}

/// A `Debug` value as a JSON string, escaped while it is formatted (no intermediate copy).
struct DebugString<'a>(&'a dyn std::fmt::Debug);

impl serde::Serialize for DebugString<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:?}", self.0))
    }
}

/// One JSON line being written, and the field names it has already.
struct Line<'a> {
    out: Vec<u8>,
    written: Vec<&'static str>,
    gcp_project: Option<&'a str>,
}

impl Line<'_> {
    /// Writes a field unless one of its name is written already. `text` is the value when it is
    /// a string (a trace id becomes a Cloud Trace name with it).
    fn put(
        &mut self,
        name: &'static str,
        value: &(impl serde::Serialize + ?Sized),
        text: Option<&str>,
    ) {
        if self.written.contains(&name) {
            return;
        }
        self.written.push(name);
        match name {
            // The line's own members win over fields that happen to share their names.
            "severity" | "time" | "target" => {}
            "trace_id" => match (self.gcp_project, text) {
                (Some(project), Some(trace_id)) => member(
                    &mut self.out,
                    "logging.googleapis.com/trace",
                    &format!("projects/{project}/traces/{trace_id}"),
                ),
                (None, Some(trace_id)) => member(&mut self.out, "trace_id", &trace_id),
                (_, None) => {}
            },
            "trace_span_id" => member(&mut self.out, "logging.googleapis.com/spanId", value),
            "trace_sampled" => {
                member(&mut self.out, "logging.googleapis.com/trace_sampled", value);
            }
            _ => member(&mut self.out, name, value),
        }
    }
}

/// Writes an event's fields straight into its [`Line`].
struct Direct<'l, 'a>(&'l mut Line<'a>);

impl Visit for Direct<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.put(field.name(), value, Some(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.put(field.name(), &value, None);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.put(field.name(), &value, None);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.put(field.name(), &value, None);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.put(field.name(), &value, None);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let text = value.to_string();
        self.0.put(field.name(), text.as_str(), Some(&text));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            // A trace id's text becomes a Cloud Trace name (see `Line::put`).
            name @ "trace_id" => {
                let text = format!("{value:?}");
                self.0.put(name, text.as_str(), Some(&text));
            }
            // Every event's `message` comes this way.
            name => self.0.put(name, &DebugString(value), None),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn the_event_wins_over_its_spans_and_an_inner_span_over_an_outer_one() {
        let capture = Capture::default();
        let subscriber =
            tracing_subscriber::registry().with(CloudLoggingLayer::new(capture.clone(), None));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("outer", who = "outer", kept = 1_u64, time = "no");
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", who = "inner", trace_id = "abc");
            let _inner = inner.enter();
            tracing::info!(kept = 2_u64, "first");
            tracing::info!(severity = "no", who = ?"event");
        });
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let [first, second] = lines.as_slice() else {
            panic!("{text}");
        };
        assert_eq!(first["message"], "first");
        assert_eq!(first["kept"], 2);
        assert_eq!(first["who"], "inner");
        assert_eq!(first["trace_id"], "abc");
        assert_ne!(first["time"], "no");
        assert_eq!(second["message"], "");
        assert_eq!(second["who"], "\"event\"");
        assert_eq!(second["kept"], 1);
        assert_eq!(second["severity"], "INFO");
        // One member per name: each raw line names each of its keys once.
        for (raw, line) in text.lines().zip(&lines) {
            for key in line.as_object().unwrap().keys() {
                assert_eq!(raw.matches(&format!("\"{key}\":")).count(), 1, "{raw}");
            }
        }
    }

    #[test]
    fn members_are_json_whatever_their_keys() {
        let mut out = b"{".to_vec();
        for key in [
            "correlation_id",
            "logging.googleapis.com/trace",
            "a\"b",
            "back\\slash",
            "tab\t",
            "é",
        ] {
            member(&mut out, key, &key.len());
        }
        out.push(b'}');
        let parsed: serde_json::Map<String, Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed.len(), 6);
        assert_eq!(parsed["a\"b"], 3);
        assert_eq!(parsed["tab\t"], 4);
        assert_eq!(parsed["é"], 2);
    }

    #[test]
    fn json_lines_have_cloud_logging_shape_and_span_fields() {
        let capture = Capture::default();
        let layer = CloudLoggingLayer::new(capture.clone(), Some("proj-1".into()));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                correlation_id = "c-1",
                trace_id = "0123456789abcdef0123456789abcdef",
                status = tracing::field::Empty
            );
            let _guard = span.enter();
            span.record("status", 201_u64);
            tracing::warn!(latency_ms = 3_u64, "done");
        });
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["severity"], "WARNING");
        assert_eq!(line["message"], "done");
        assert_eq!(line["correlation_id"], "c-1");
        assert_eq!(line["status"], 201);
        assert_eq!(line["latency_ms"], 3);
        assert_eq!(
            line["logging.googleapis.com/trace"],
            "projects/proj-1/traces/0123456789abcdef0123456789abcdef"
        );
    }
}
