//! The audit report as one self-contained HTML page: styles inline, no
//! scripts, no external assets, so it opens offline, can be archived with
//! the audit and prints as it reads.

use std::fmt::Write;

use super::Audit;
use crate::diff::render::{event_text, line, stats_line};
use crate::diff::{Change, DeviceDiff, DeviceEvent};
use crate::text::plural;

const STYLE: &str = r#"
:root { --line: #c8ccd2; --head: #eef1f4; --ink: #1c2128; --muted: #5b636e; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
p.meta, p.note { color: var(--muted); margin: .2rem 0; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: var(--head); }
td:first-child { white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: .5rem; margin: .6rem 0; }
.card { border: 1px solid var(--line); border-radius: 4px; padding: .4rem .7rem; min-width: 7rem; }
.card b { display: block; font-size: 1.4rem; }
.card.warn { border-color: #b35900; background: #fff4e5; }
.k { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; }
tr.added td:first-child { color: #0a6b2d; } tr.removed td:first-child { color: #a31515; }
tr.moved td:first-child { color: #1a4fa3; } tr.changed td:first-child { color: #7a4d00; }
tr.unknown td:first-child { color: var(--muted); }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; } tr { break-inside: avoid; } thead { display: table-header-group; }
  .card.warn { background: none; }
}
"#;

/// HTML text with `&`, `<`, `>` and quotes escaped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table: `head` names the columns (a leading `#` marks a numeric one).
fn table(out: &mut String, id: &str, head: &[&str], rows: impl IntoIterator<Item = Row>) {
    let numeric: Vec<bool> = head.iter().map(|h| h.starts_with('#')).collect();
    let _ = write!(out, "<table id=\"{id}\"><thead><tr>");
    for (h, n) in head.iter().zip(&numeric) {
        let h = h.trim_start_matches('#');
        let _ = write!(
            out,
            "<th{}>{}</th>",
            if *n { " class=\"n\"" } else { "" },
            esc(h)
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        match &row.class {
            Some(c) => {
                let _ = write!(out, "<tr class=\"{c}\">");
            }
            None => out.push_str("<tr>"),
        }
        for (cell, n) in row
            .cells
            .iter()
            .zip(numeric.iter().chain(std::iter::repeat(&false)))
        {
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if *n { " class=\"n\"" } else { "" },
                esc(cell)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

struct Row {
    class: Option<&'static str>,
    cells: Vec<String>,
}

fn row(cells: Vec<String>) -> Row {
    Row { class: None, cells }
}

/// A device's part of an element id: an id holds no spaces, and two
/// devices never share one (the store's directory name has both properties).
fn anchor(device: &str) -> String {
    crate::snapshot::name::encode(device)
}

fn card(out: &mut String, label: &str, n: usize, warn: bool) {
    let _ = write!(
        out,
        "<div class=\"card{}\"><b>{n}</b>{}</div>",
        if warn && n > 0 { " warn" } else { "" },
        esc(label)
    );
}

fn kind(c: &Change) -> &'static str {
    match c {
        Change::Added { .. } => "added",
        Change::Removed { .. } => "removed",
        Change::Moved { .. } => "moved",
        Change::Changed { .. } => "changed",
        Change::Unknown { .. } => "unknown",
    }
}

fn device_changes(out: &mut String, d: &DeviceDiff) {
    let _ = writeln!(
        out,
        "<h3 id=\"device-{}\">{}</h3>",
        anchor(&d.device),
        esc(&d.device)
    );
    for e in &d.events {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(&event_text(e)));
    }
    // A new device's items are all "added": its inventory says more, and
    // a first report of a whole fleet stays readable.
    if d.changes.is_empty() {
        return;
    }
    if d.events.contains(&DeviceEvent::New) {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} (in the inventory below).</p>",
            plural(d.changes.len(), "item", "items")
        );
        return;
    }
    table(
        out,
        &format!("changes-{}", anchor(&d.device)),
        &["change", "what"],
        d.changes.iter().map(|c| {
            let (_, text) = line(c);
            Row {
                class: Some(kind(c)),
                cells: vec![kind(c).to_owned(), text],
            }
        }),
    );
}

/// The whole page.
pub fn render(audit: &Audit) -> String {
    let diff = &audit.diff;
    let s = &diff.stats;
    let mut out = String::new();
    let title = format!("Hardware audit {} → {}", diff.from, diff.to);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let _ = writeln!(
        out,
        "<p class=\"meta\">Store {} · generated {} by invmon {} · {}</p>",
        esc(&audit.store),
        audit.generated_at.format("%Y-%m-%d %H:%M:%SZ"),
        env!("CARGO_PKG_VERSION"),
        esc(&stats_line(s))
    );

    out.push_str("<h2 id=\"summary\">Summary</h2><div class=\"cards\">");
    card(&mut out, "devices", s.devices, false);
    card(&mut out, "items now", audit.rows.len(), false);
    card(&mut out, "added", s.added, false);
    card(&mut out, "removed", s.removed, false);
    card(&mut out, "moved", s.moved, false);
    card(&mut out, "changed", s.changed, false);
    card(&mut out, "unknown", s.unknown, true);
    card(&mut out, "new devices", s.new_devices, false);
    card(&mut out, "missing devices", s.missing_devices, true);
    card(&mut out, "incomplete devices", s.incomplete_devices, true);
    card(
        &mut out,
        "serials on several devices",
        audit.duplicates.len(),
        true,
    );
    let flagged: usize = audit.serial_issues.values().sum();
    card(&mut out, "items without a usable serial", flagged, true);
    out.push_str("</div>\n");
    if !diff.errors.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\"><b>Incomplete report:</b> {} not read (listed at the end).</p>",
            plural(diff.errors.len(), "snapshot", "snapshots")
        );
    }

    out.push_str("<h2 id=\"attention\">Devices that failed or went missing</h2>\n");
    if audit.attention.is_empty() {
        out.push_str(
            "<p class=\"note\">None: every device was collected completely on both sides.</p>\n",
        );
    } else {
        table(
            &mut out,
            "attention-table",
            &["device", "state", "detail"],
            audit
                .attention
                .iter()
                .map(|a| row(vec![a.device.clone(), a.state.clone(), a.detail.clone()])),
        );
    }

    out.push_str("<h2 id=\"changes\">Changes per device</h2>\n");
    let changed: Vec<&DeviceDiff> = diff.devices.iter().filter(|d| d.shows_anything()).collect();
    if changed.is_empty() {
        out.push_str("<p class=\"note\">No changes in the window.</p>\n");
    }
    for d in changed {
        device_changes(&mut out, d);
    }

    out.push_str("<h2 id=\"inventory\">Inventory by vendor, model and class</h2>\n");
    let _ = writeln!(
        out,
        "<p class=\"note\">As of each device's newer snapshot. A device missing in the window, or whose newer \
         collection failed, vouches for nothing and is not counted (with <span class=\"k\">--skip-failed</span>, its newest \
         complete snapshot is). Every item is in the CSV export (<span class=\"k\">invmon report --csv</span>).</p>"
    );
    table(
        &mut out,
        "inventory-table",
        &[
            "vendor",
            "model",
            "class",
            "#items",
            "#devices",
            "#without usable serial",
        ],
        audit.groups.iter().map(|g| {
            row(vec![
                g.vendor.clone(),
                g.model.clone(),
                g.class.clone(),
                g.items.to_string(),
                g.devices.to_string(),
                g.serial_issues.to_string(),
            ])
        }),
    );

    out.push_str("<h2 id=\"serial-quality\">Serial quality</h2>\n");
    if audit.serial_issues.is_empty() {
        out.push_str("<p class=\"note\">Every item has a usable serial.</p>\n");
    } else {
        table(
            &mut out,
            "serial-quality-table",
            &["problem", "#items"],
            audit
                .serial_issues
                .iter()
                .map(|(k, n)| row(vec![k.clone(), n.to_string()])),
        );
    }

    out.push_str("<h2 id=\"duplicates\">Serials on several devices</h2>\n");
    if audit.duplicates.is_empty() {
        out.push_str("<p class=\"note\">None: no usable serial is on two devices.</p>\n");
    } else {
        table(
            &mut out,
            "duplicates-table",
            &["serial", "where"],
            audit
                .duplicates
                .iter()
                .map(|d| row(vec![d.serial.clone(), d.places.join("; ")])),
        );
    }

    if !diff.errors.is_empty() {
        out.push_str("<h2 id=\"errors\">Snapshots not read</h2>\n");
        table(
            &mut out,
            "errors-table",
            &["error"],
            diff.errors.iter().map(|e| row(vec![e.clone()])),
        );
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn device_ids_hold_no_space_or_markup_and_stay_apart() {
        let ids: Vec<String> = ["core sw1", "core_sw1", "a\"<b>", "r1"]
            .iter()
            .map(|d| anchor(d))
            .collect();
        assert_eq!(ids[3], "r1");
        for id in &ids {
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"\"'<>&".contains(&b)),
                "{id}"
            );
        }
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
    }
}
