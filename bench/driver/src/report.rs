//! The report: medians of the recorded runs, each endpoint's ratio to its ceiling, the markdown
//! table and the chart.
//!
//! `run.sh` records one tab-separated line per fact:
//!
//! ```text
//! meta    <key>       <value>
//! run     <scenario>  <endpoint>  <rps>  <p50 ms>  <p99 ms>  <requests>  <errors>
//! verify  <scenario>  ok|failed
//! ```
//!
//! Scenarios: `c32` and `c1` (the server under wrk), `http` (the bare handler under wrk), `db`
//! (the store loop), `scale1`..`scale3` (the POST load over that many server processes),
//! `pgbench` (the SQL ceilings of the chain append: `append-1`, `append-10`).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::stats::median;

/// The endpoints of the table, in order: key and label.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("health", "GET /health"),
    ("agents", "GET /api/v1/agents"),
    ("agents-50", "GET /api/v1/agents?limit=50"),
    (
        "agents-304",
        "GET /api/v1/agents?limit=50, If-None-Match (304)",
    ),
    ("agent", "GET /api/v1/agents/{id}"),
    ("agent-304", "GET /api/v1/agents/{id}, If-None-Match (304)"),
    ("skills", "GET /api/v1/genesis/skills"),
    ("job-roles", "GET /api/v1/genesis/job-roles"),
    ("audit-export", "GET /api/v1/audit/export"),
    ("search", "GET /api/v1/search (hashing)"),
    ("search-minilm", "GET /api/v1/search (MiniLM)"),
    ("post-skill", "POST /api/v1/genesis/skills"),
    ("post-trial", "POST /api/v1/trials"),
];

/// The store-loop operation that is an endpoint's database ceiling.
fn db_ceiling_of(endpoint: &str) -> Option<&str> {
    match endpoint {
        // A list's tag is checked before anything is read: no store call to bound it.
        "health" | "agents-304" => None,
        // A list's or an entity's answer is kept while the model stays at its seq
        // (plant-server's `pages`; an entity's 304 is its kept answer's ETag): under a read
        // load the handler makes no store call. The agents list's store loop (what building a
        // page costs) is in "where the agents list spends its time", not a ceiling.
        "agents" | "agents-50" | "skills" | "job-roles" | "agent" | "agent-304" => None,
        // The handler's work without HTTP: the query embedded with MiniLM, then the same SQL.
        "search-minilm" => Some("search-minilm"),
        other => Some(other),
    }
}

/// The medians of one scenario and endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Medians {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: f64,
    pub runs: usize,
}

/// Everything recorded in one benchmark run.
#[derive(Debug, Default)]
pub struct Recorded {
    pub meta: BTreeMap<String, String>,
    runs: BTreeMap<(String, String), Vec<[f64; 4]>>,
    pub verify: BTreeMap<String, String>,
}

impl Recorded {
    /// Reads the recorded lines; lines of another shape are skipped.
    pub fn parse(text: &str) -> Self {
        let mut rec = Recorded::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["meta", key, value] => {
                    rec.meta.insert((*key).to_owned(), (*value).to_owned());
                }
                ["run", scenario, endpoint, rps, p50, p99, _ops, errors] => {
                    let nums =
                        [rps, p50, p99, errors].map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
                    rec.runs
                        .entry(((*scenario).to_owned(), (*endpoint).to_owned()))
                        .or_default()
                        .push(nums);
                }
                // A scenario is verified after each of its runs: one failure stands, whatever
                // the later runs say.
                ["verify", scenario, outcome] => {
                    let kept = rec.verify.entry((*scenario).to_owned()).or_default();
                    if !kept.starts_with("FAILED") {
                        *kept = (*outcome).to_owned();
                    }
                }
                _ => {}
            }
        }
        rec
    }

    /// The medians of a scenario's runs of an endpoint.
    pub fn medians(&self, scenario: &str, endpoint: &str) -> Option<Medians> {
        let runs = self.runs.get(&(scenario.to_owned(), endpoint.to_owned()))?;
        let col = |i: usize| median(&runs.iter().map(|r| r[i]).collect::<Vec<_>>());
        Some(Medians {
            rps: col(0)?,
            p50_ms: col(1)?,
            p99_ms: col(2)?,
            errors: col(3).unwrap_or(0.0),
            runs: runs.len(),
        })
    }

    fn meta(&self, key: &str) -> &str {
        self.meta.get(key).map_or("n/a", String::as_str)
    }
}

/// One endpoint's line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub key: &'static str,
    pub label: &'static str,
    pub loaded: Medians,
    pub single: Option<Medians>,
    pub http_ceiling: Option<f64>,
    pub db_ceiling: Option<f64>,
}

impl Row {
    /// The lower of the two ceilings: neither can be beaten.
    pub fn ceiling(&self) -> Option<f64> {
        match (self.http_ceiling, self.db_ceiling) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Throughput as a share of the ceiling.
    pub fn ratio(&self) -> Option<f64> {
        self.ceiling()
            .filter(|c| *c > 0.0)
            .map(|c| self.loaded.rps / c)
    }
}

/// A ratio as the table shows it. Nothing beats its ceiling, so a ratio above 100% says the
/// measurement is wrong (a ceiling that does less than the endpoint, or runs that disagree),
/// not that the endpoint is fast.
fn ratio_text(ratio: f64) -> String {
    let percent = ratio * 100.0;
    if ratio > 1.0 {
        format!("**{percent:.0}%: above its ceiling, a measurement problem**")
    } else {
        format!("{percent:.0}%")
    }
}

/// The rows for every endpoint measured under load.
pub fn rows(rec: &Recorded) -> Vec<Row> {
    ENDPOINTS
        .iter()
        .filter_map(|&(key, label)| {
            Some(Row {
                key,
                label,
                loaded: rec.medians("c32", key)?,
                single: rec.medians("c1", key),
                http_ceiling: rec.medians("http", key).map(|m| m.rps),
                db_ceiling: db_ceiling_of(key)
                    .and_then(|op| rec.medians("db", op))
                    .map(|m| m.rps),
            })
        })
        .collect()
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.decimals$}"))
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| group(v.round() as u64))
}

/// 12345 as `12 345`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(ch);
    }
    out
}

fn kib_to_mib(kib: &str) -> String {
    kib.parse::<f64>()
        .map_or_else(|_| "n/a".into(), |k| format!("{:.1} MiB", k / 1024.0))
}

/// The markdown report.
pub fn markdown(rec: &Recorded, svg_name: &str) -> String {
    let mut md = String::new();
    let m = |k| rec.meta(k);
    let _ = writeln!(
        md,
        "# plant benchmark — {} at `{}`\n",
        m("date"),
        m("commit")
    );
    let _ = writeln!(
        md,
        "Machine: {} × {} ({}), {} MiB RAM. PostgreSQL {} from `scripts/test-db.sh` on the same \
         machine. Load: `wrk -t2 -c32 -d{}s --latency`, {} runs each, median; \
         `-c1` columns: `wrk -t1 -c1 -d{}s`; HTTP ceiling runs {} s, store loops {} s, write \
         scaling {} s per run; each -c32 run of the server is followed at once by one run of \
         each of its ceilings, so both sides of a ratio meet the same database state. Server \
         pool: {} connections.\n",
        m("nproc"),
        m("cpu"),
        m("kernel"),
        m("mem_mib"),
        m("postgres"),
        m("seconds"),
        m("runs"),
        m("c1_seconds"),
        m("ceiling_seconds"),
        m("db_seconds"),
        m("scale_seconds"),
        m("pool")
    );
    let _ = writeln!(md, "Command: `{}`\n", m("command"));
    let _ = writeln!(
        md,
        "![requests per second as a share of the ceiling]({svg_name})\n"
    );
    md.push_str(
        "| endpoint | req/s | p50 ms | p99 ms | c1 p50 ms | c1 p99 ms | HTTP ceiling req/s | DB ceiling req/s | ratio | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows(rec) {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            rate(Some(row.loaded.rps)),
            num(Some(row.loaded.p50_ms), 2),
            num(Some(row.loaded.p99_ms), 2),
            num(row.single.map(|s| s.p50_ms), 2),
            num(row.single.map(|s| s.p99_ms), 2),
            rate(row.http_ceiling),
            rate(row.db_ceiling),
            row.ratio().map_or_else(|| "–".into(), ratio_text),
            num(Some(row.loaded.errors), 0),
        );
    }
    md.push_str(
        "\nratio = req/s ÷ the lower ceiling. HTTP ceiling: a bare hyper handler answering the \
         same bytes (captured from the server), same wrk settings. DB ceiling: the same store \
         calls (the read's SQL, or the whole audited insert) in a loop of 32 tasks over a pool \
         of the server's size, no HTTP. errors: non-2xx answers and socket errors (median per run).\n\n",
    );

    md.push_str("## Resources\n\n| measure | value |\n|---|---|\n");
    let _ = writeln!(
        md,
        "| RSS idle (PostgreSQL store, after start) | {} |",
        kib_to_mib(m("rss_idle_kib"))
    );
    let _ = writeln!(
        md,
        "| RSS peak under load (VmHWM) | {} |",
        kib_to_mib(m("rss_peak_kib"))
    );
    let _ = writeln!(
        md,
        "| RSS idle with MiniLM loaded | {} |",
        kib_to_mib(m("rss_minilm_kib"))
    );
    let _ = writeln!(
        md,
        "| start-up to first 200, in-memory store (seeded) | {} ms |",
        m("startup_memory_ms")
    );
    let _ = writeln!(
        md,
        "| start-up to first 200, PostgreSQL | {} ms |",
        m("startup_pg_ms")
    );
    let _ = writeln!(
        md,
        "| start-up to first 200, PostgreSQL, after the write rows (a second process) | {} ms |",
        m("startup_grown_ms")
    );
    let _ = writeln!(md, "| container image | {} |", m("image"));
    let _ = writeln!(
        md,
        "| build in this run (profile bench-release, clean unless already built) | {} s |",
        m("build_seconds")
    );
    let _ = writeln!(
        md,
        "| whole run, build included | {} s |",
        m("total_seconds")
    );

    md.push_str("\n## `plant-cli verify` after the write rows\n\n| after | result |\n|---|---|\n");
    labelled_rows(
        &mut md,
        &[
            ("post-skill", "`POST /api/v1/genesis/skills` over HTTP"),
            ("db-post-skill", "its database ceiling loop"),
            ("post-trial", "`POST /api/v1/trials` over HTTP"),
            ("db-post-trial", "its database ceiling loop"),
        ],
        |scenario| rec.verify.get(scenario),
    );

    md.push_str("\n## Vectors after the skill rows\n\nVectors follow the commit: the rows measure writes, and the vectors of the skills they wrote are stored after (the indexer yields to writes while they go on). Before the next row the benchmark waits until every skill has its vector (its database ceiling loop stores its own before it ends, untimed).\n\n| after | vectors |\n|---|---|\n");
    labelled_rows(
        &mut md,
        &[
            ("post-skill", "`POST /api/v1/genesis/skills` over HTTP"),
            ("scale1", "1 process"),
            ("scale2", "2 processes"),
            ("scale3", "3 processes"),
        ],
        |scenario| rec.meta.get(&format!("vectors_{scenario}")),
    );

    if let Some(s) = rec.medians("minilm", "post-skill") {
        md.push_str("\n## Skill creates with MiniLM loaded\n\nA second server with the model loaded (one run, `wrk -t2 -c32`): writes commit without waiting for their vector; the indexer embeds and stores them after, in batches, yielding to the writes while they go on. The lag is what that server reports at `/metrics` (`plant_vector_lag_seconds`) once every skill has its vector.\n\n| measure | value |\n|---|---|\n");
        let _ = writeln!(
            md,
            "| `POST /api/v1/genesis/skills` | {} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {:.0} |",
            rate(Some(s.rps)),
            s.p50_ms,
            s.p99_ms,
            s.errors
        );
        let _ = writeln!(md, "| vectors after the run | {} |", m("vectors_minilm"));
        let _ = writeln!(
            md,
            "| commit to stored vector | {} |",
            m("vector_lag_minilm")
        );
        let _ = writeln!(
            md,
            "| RSS peak of that server (VmHWM) | {} |",
            kib_to_mib(m("rss_minilm_peak_kib"))
        );
        let _ = writeln!(
            md,
            "| `plant-cli verify` after | {} |",
            rec.verify.get("minilm").map_or("n/a", String::as_str)
        );
    }

    md.push_str("\n## Audited writes over 1, 2, 3 server processes (one database, one chain)\n\n");
    md.push_str("| processes | POST /genesis/skills req/s | p50 ms | p99 ms | errors | `plant-cli verify` |\n|---:|---:|---:|---:|---:|---|\n");
    for n in 1..=3 {
        let scenario = format!("scale{n}");
        if let Some(s) = rec.medians(&scenario, "post-skill") {
            let _ = writeln!(
                md,
                "| {n} | {} | {:.2} | {:.2} | {:.0} | {} |",
                rate(Some(s.rps)),
                s.p50_ms,
                s.p99_ms,
                s.errors,
                rec.verify.get(&scenario).map_or("n/a", String::as_str)
            );
        }
    }

    md.push_str(
        "\n## SQL ceilings of the chain append (pgbench, 32 clients)\n\n\
         The audited write's shape without the application (`bench/pgbench/`): the one head row \
         taken `for update`, ~600-byte entries appended, one commit (one WAL flush) per \
         transaction. One entry per transaction is the ceiling of a write path that commits each \
         change alone; ten is what group commit can reach.\n\n\
         | entries per transaction | transactions/s | entries/s | p50 ms | p99 ms |\n|---:|---:|---:|---:|---:|\n",
    );
    for entries in [1u32, 10] {
        if let Some(s) = rec.medians("pgbench", &format!("append-{entries}")) {
            let _ = writeln!(
                md,
                "| {entries} | {} | {} | {:.2} | {:.2} |",
                rate(Some(s.rps)),
                rate(Some(s.rps * f64::from(entries))),
                s.p50_ms,
                s.p99_ms
            );
        }
    }

    md.push_str("\n## Where the agents list spends its time\n\n| measure | req/s | p50 ms | p99 ms |\n|---|---:|---:|---:|\n");
    for (scenario, key, label) in [
        (
            "db",
            "agents-jsonb",
            "before: jsonb_build_object per row, decoded via serde_json::Value (store loop)",
        ),
        (
            "db",
            "agents",
            "the handler's SQL: list query (plain columns, FromRow) + industry names (store loop)",
        ),
        (
            "db",
            "agents-served",
            "the same + the JSON body (store loop)",
        ),
        (
            "db",
            "agents-columns",
            "plain columns + industry joined, rows fetched, not decoded",
        ),
        ("http", "agents", "bare hyper, same bytes"),
        ("c32", "agents", "plant-server"),
    ] {
        breakdown_row(&mut md, rec, scenario, key, label);
    }

    md.push_str("\n## Where the audit export spends its time\n\n| measure | req/s | p50 ms | p99 ms |\n|---|---:|---:|---:|\n");
    for (scenario, key, label) in [
        (
            "db",
            "audit-export",
            "the page (up to 1 000 entries) read and decoded (store loop)",
        ),
        (
            "db",
            "audit-export-served",
            "the same + the JSON body, written as the handler writes it (store loop)",
        ),
        ("http", "audit-export", "bare hyper, same bytes"),
        ("c32", "audit-export", "plant-server"),
    ] {
        breakdown_row(&mut md, rec, scenario, key, label);
    }
    md
}

/// One row of a breakdown table, when the run recorded it.
/// One `| label | value |` row for each scenario that has a value.
fn labelled_rows<'a>(
    md: &mut String,
    scenarios: &[(&str, &str)],
    value: impl Fn(&str) -> Option<&'a String>,
) {
    for (scenario, label) in scenarios {
        if let Some(outcome) = value(scenario) {
            let _ = writeln!(md, "| {label} | {outcome} |");
        }
    }
}

fn breakdown_row(md: &mut String, rec: &Recorded, scenario: &str, key: &str, label: &str) {
    if let Some(s) = rec.medians(scenario, key) {
        let _ = writeln!(
            md,
            "| {label} | {} | {:.2} | {:.2} |",
            rate(Some(s.rps)),
            s.p50_ms,
            s.p99_ms
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str = "meta\tdate\t2026-01-01\n\
        meta\tcommit\tabc1234\n\
        run\tc32\tagents\t900\t1\t5\t9000\t0\n\
        run\tc32\tagents\t1000\t2\t6\t10000\t0\n\
        run\tc32\tagents\t1100\t3\t7\t11000\t0\n\
        run\thttp\tagents\t2000\t1\t1\t1\t0\n\
        run\tdb\tagents\t1500\t1\t1\t1\t0\n\
        run\tc32\tsearch\t800\t1\t1\t1\t0\n\
        run\thttp\tsearch\t4000\t1\t1\t1\t0\n\
        run\tdb\tsearch\t1600\t1\t1\t1\t0\n\
        run\tc32\thealth\t5000\t1\t1\t1\t0\n\
        run\tscale2\tpost-skill\t300\t1\t2\t3\t0\n\
        run\tpgbench\tappend-10\t983\t30\t60\t9830\t0\n\
        verify\tscale2\tok: audit chain intact\n\
        verify\tpost-skill\tFAILED: break at seq 7\n\
        garbage line\n";

    #[test]
    fn medians_and_the_lower_ceiling_give_the_ratio() {
        let rec = Recorded::parse(RECORDED);
        let rows = rows(&rec);
        let agents = rows.iter().find(|r| r.key == "agents").unwrap();
        assert_eq!(agents.loaded.rps, 1000.0);
        assert_eq!(agents.loaded.p99_ms, 6.0);
        // A list is bounded by its HTTP ceiling only: its answer is kept per seq.
        assert_eq!(agents.db_ceiling, None);
        assert_eq!(agents.ceiling(), Some(2000.0));
        assert_eq!(agents.ratio(), Some(0.5));
        // A search makes its store calls on every request: its store loop bounds it too.
        let search = rows.iter().find(|r| r.key == "search").unwrap();
        assert_eq!(search.ceiling(), Some(1600.0));
        assert_eq!(search.ratio(), Some(0.5));
        let health = rows.iter().find(|r| r.key == "health").unwrap();
        assert_eq!(health.ceiling(), None);
    }

    #[test]
    fn the_table_has_a_row_per_measured_endpoint_and_the_scaling_figures() {
        let md = markdown(&Recorded::parse(RECORDED), "latest.svg");
        assert!(md.contains("| `GET /api/v1/agents` | 1\u{202f}000 |"));
        assert!(md.contains("| 50% |"));
        assert!(md.contains("| 2 | 300 |"));
        assert!(md.contains("| ok: audit chain intact |"));
        assert!(
            md.contains("| `POST /api/v1/genesis/skills` over HTTP | FAILED: break at seq 7 |")
        );
        assert!(md.contains("| 10 | 983 | 9\u{202f}830 | 30.00 | 60.00 |"));
        assert!(!md.contains("POST /api/v1/trials"));
    }

    #[test]
    fn a_failed_verification_stands_whatever_later_runs_say() {
        let text = format!("{RECORDED}verify\tpost-skill\tok: audit chain intact\n");
        let rec = Recorded::parse(&text);
        assert_eq!(rec.verify["post-skill"], "FAILED: break at seq 7");
        assert_eq!(rec.verify["scale2"], "ok: audit chain intact");
    }

    #[test]
    fn a_ratio_above_its_ceiling_is_reported_as_a_measurement_problem() {
        assert_eq!(ratio_text(0.62), "62%");
        assert_eq!(ratio_text(1.0), "100%");
        assert!(ratio_text(1.3).contains("130%: above its ceiling, a measurement problem"));
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group(7), "7");
        assert_eq!(group(1234567), "1\u{202f}234\u{202f}567");
    }
}
