//! The chart: one bar per endpoint, its throughput as a share of its ceiling, with the 60% mark.
//! Plain SVG written by hand: no fonts, scripts or external references.

use std::fmt::Write;

use crate::report::{Recorded, Row, group, rows};

const WIDTH: f64 = 960.0;
const LABEL_W: f64 = 300.0;
const BAR_W: f64 = 380.0;
const ROW_H: f64 = 30.0;
const TOP: f64 = 64.0;
/// The share each read should reach.
pub const TARGET: f64 = 0.6;

/// Escapes text for an SVG text node or attribute.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart for a recorded run.
pub fn chart(rec: &Recorded) -> String {
    let rows = rows(rec);
    let scale_max = rows
        .iter()
        .filter_map(Row::ratio)
        .fold(1.0_f64, f64::max)
        .min(2.0);
    let x = |ratio: f64| LABEL_W + BAR_W * (ratio.min(scale_max) / scale_max);
    let height = TOP + ROW_H * rows.len() as f64 + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="12" y="24" font-size="16" font-weight="bold">plant: requests/s as a share of the ceiling (wrk -t2 -c32)</text>"#
    );
    let _ = writeln!(
        s,
        r##"<text x="12" y="44" fill="#555">{} · commit {} · {} × {}</text>"##,
        escape(rec.meta.get("date").map_or("", String::as_str)),
        escape(rec.meta.get("commit").map_or("", String::as_str)),
        escape(rec.meta.get("nproc").map_or("", String::as_str)),
        escape(rec.meta.get("cpu").map_or("", String::as_str)),
    );
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL_W - 8.0,
            y + 18.0,
            escape(row.label)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{LABEL_W}" y="{:.1}" width="{BAR_W}" height="20" fill="#eee"/>"##,
            y + 4.0
        );
        let detail = match (row.ratio(), row.ceiling()) {
            (Some(ratio), Some(ceiling)) => {
                let fill = if ratio >= TARGET {
                    "#2b8a3e"
                } else {
                    "#d9480f"
                };
                let _ = writeln!(
                    s,
                    r#"<rect x="{LABEL_W}" y="{:.1}" width="{:.1}" height="20" fill="{fill}"/>"#,
                    y + 4.0,
                    x(ratio) - LABEL_W
                );
                format!(
                    "{:.0}% · {} of {} req/s",
                    ratio * 100.0,
                    group(row.loaded.rps.round() as u64),
                    group(ceiling.round() as u64)
                )
            }
            _ => format!(
                "{} req/s · no ceiling",
                group(row.loaded.rps.round() as u64)
            ),
        };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            LABEL_W + BAR_W + 8.0,
            y + 18.0,
            escape(&detail)
        );
    }
    let bottom = TOP + ROW_H * rows.len() as f64;
    for (ratio, label, dash) in [(TARGET, "60%", "4 3"), (1.0, "100%", "")] {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#333" stroke-dasharray="{dash}"/>"##,
            x(ratio),
            TOP,
            bottom
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">{label}</text>"##,
            x(ratio),
            bottom + 16.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_a_bar_per_row_and_escapes_text() {
        let rec = Recorded::parse(
            "meta\tcpu\tA & B\nrun\tc32\tagents\t500\t1\t2\t3\t0\nrun\thttp\tagents\t1000\t1\t1\t1\t0\n\
             run\tc32\thealth\t900\t1\t1\t1\t0\n",
        );
        let svg = chart(&rec);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("A &amp; B"));
        assert!(svg.contains("50% · 500 of 1\u{202f}000 req/s"));
        assert!(svg.contains("no ceiling"));
        assert_eq!(svg.matches("fill=\"#d9480f\"").count(), 1);
    }
}
