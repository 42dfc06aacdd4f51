//! Diff output: text for terminals, JSON for scripts, Markdown for tickets.

use std::fmt::Write;

use super::{Change, DeviceEvent, FieldChange, Place, Report, Sighting, Stats};
use crate::inventory::Item;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// Renders `report`; `color` adds ANSI colours to the text format.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Text => text(report, color),
        // A report is plain data (strings, numbers, times): it always serializes.
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        Format::Markdown => markdown(report),
    }
}

/// Values longer than this are shown as a word-level diff.
const LONG: usize = 32;

fn value_change(c: &FieldChange, word_diff: impl Fn(&str, &str) -> String) -> String {
    if c.old.chars().count() > LONG || c.new.chars().count() > LONG {
        format!("{}: {}", c.field, word_diff(&c.old, &c.new))
    } else {
        format!("{}: {} → {}", c.field, shown(&c.old), shown(&c.new))
    }
}

fn shown(v: &str) -> &str {
    if v.is_empty() { "\"\"" } else { v }
}

/// `[-old-]{+new+}` around the words that differ.
fn word_diff(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_words(old, new);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let v = change.value();
        match change.tag() {
            similar::ChangeTag::Equal => out.push_str(v),
            similar::ChangeTag::Delete => {
                let _ = write!(out, "[-{v}-]");
            }
            similar::ChangeTag::Insert => {
                let _ = write!(out, "{{+{v}+}}");
            }
        }
    }
    out
}

fn place(p: &Place) -> String {
    if p.path.is_empty() {
        p.device.clone()
    } else {
        format!("{} {}", p.device, p.path.join(" > "))
    }
}

fn label(item: &Item) -> String {
    let name = if item.name.is_empty() {
        &item.description
    } else {
        &item.name
    };
    let mut parts = vec![item.class.as_str()];
    if !item.model.is_empty() {
        parts.push(&item.model);
    }
    format!("{} {name:?}", parts.join(" "))
}

fn when(side: &Option<super::SnapshotRef>) -> String {
    match side {
        Some(s) => format!(
            "{} ({})",
            s.collected_at.format("%Y-%m-%dT%H:%M:%SZ"),
            s.status
        ),
        None => "none".into(),
    }
}

/// One line about a device event, as every format tells it.
pub(crate) fn event_text(e: &DeviceEvent) -> String {
    match e {
        DeviceEvent::New => "new device".into(),
        DeviceEvent::Missing { last_seen } => {
            format!(
                "missing: not collected since {}",
                last_seen.format("%Y-%m-%dT%H:%M:%SZ")
            )
        }
        DeviceEvent::Incomplete {
            side,
            status,
            reason,
            replaced_by: None,
        } => {
            format!("{side} side collection {status}: {reason}")
        }
        DeviceEvent::Incomplete {
            side,
            status,
            reason,
            replaced_by: Some(stamp),
        } => {
            format!(
                "{side} side collection {status} ({reason}); compared with the complete snapshot of {stamp}"
            )
        }
    }
}

/// `(also added on r2 at …; removed from r3 at …)` for a serial seen on several devices.
fn elsewhere(list: &[Sighting]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = list
        .iter()
        .map(|s| {
            let preposition = if s.change == "added" { "on" } else { "from" };
            format!(
                "{} {preposition} {} at {}",
                s.change,
                s.device,
                s.at.format("%Y-%m-%dT%H:%M:%SZ")
            )
        })
        .collect();
    format!("  (serial on several devices: also {})", parts.join("; "))
}

pub(crate) fn stats_line(s: &Stats) -> String {
    let several = match s.on_several_devices {
        0 => String::new(),
        1 => "; 1 serial on several devices".to_owned(),
        n => format!("; {n} serials on several devices"),
    };
    format!(
        "{} device{}: {} added, {} removed, {} moved, {} changed, {} unknown, {} unchanged; {} new, {} missing, {} incomplete{several}",
        s.devices,
        if s.devices == 1 { "" } else { "s" },
        s.added,
        s.removed,
        s.moved,
        s.changed,
        s.unknown,
        s.unchanged,
        s.new_devices,
        s.missing_devices,
        s.incomplete_devices
    )
}

/// The marker and one-line description of a change, as every format tells it.
pub(crate) fn line(c: &Change) -> (char, String) {
    match c {
        Change::Added {
            key,
            item,
            elsewhere: other,
        } => ('+', format!("{key}  {}{}", label(item), elsewhere(other))),
        Change::Removed {
            key,
            item,
            elsewhere: other,
        } => ('-', format!("{key}  {}{}", label(item), elsewhere(other))),
        Change::Moved {
            key,
            item,
            from,
            to,
            fields,
        } => {
            let mut text = format!(
                "{key}  {}  from {} to {}",
                label(item),
                place(from),
                place(to)
            );
            for f in fields {
                text += &format!("; {}", value_change(f, word_diff));
            }
            ('→', text)
        }
        Change::Changed { key, item, fields } => {
            let list: Vec<String> = fields.iter().map(|f| value_change(f, word_diff)).collect();
            ('~', format!("{key}  {}  {}", label(item), list.join("; ")))
        }
        Change::Unknown { key, item, reason } => {
            ('?', format!("{key}  {}  unknown: {reason}", label(item)))
        }
    }
}

fn paint(color: bool, marker: char, text: &str) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match marker {
        '+' => "32",
        '-' => "31",
        '→' => "36",
        '~' => "33",
        '?' => "35",
        _ => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn text(report: &Report, color: bool) -> String {
    let mut out = String::new();
    for d in report.devices.iter().filter(|d| d.shows_anything()) {
        let _ = writeln!(
            out,
            "{}: {} → {}",
            paint(color, '!', &d.device),
            when(&d.from),
            when(&d.to)
        );
        for e in &d.events {
            let _ = writeln!(
                out,
                "  {}",
                paint(color, '!', &format!("! {}", event_text(e)))
            );
        }
        for c in &d.changes {
            let (marker, text) = line(c);
            let _ = writeln!(
                out,
                "  {}",
                paint(color, marker, &format!("{marker} {text}"))
            );
        }
    }
    for e in &report.errors {
        let _ = writeln!(out, "error: {e}");
    }
    let _ = writeln!(out, "{}", stats_line(&report.stats));
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(report: &Report) -> String {
    let mut out = format!(
        "# Hardware changes: `{}` → `{}`\n\n{}\n",
        report.from,
        report.to,
        stats_line(&report.stats)
    );
    for d in report.devices.iter().filter(|d| d.shows_anything()) {
        let _ = write!(
            out,
            "\n## {}\n\n`{}` → `{}`\n\n",
            cell(&d.device),
            when(&d.from),
            when(&d.to)
        );
        for e in &d.events {
            let _ = writeln!(out, "- **{}**", cell(&event_text(e)));
        }
        if !d.changes.is_empty() {
            if !d.events.is_empty() {
                out.push('\n');
            }
            out.push_str("| | key | item | details |\n|---|---|---|---|\n");
            for c in &d.changes {
                let item = c.item();
                let details = match c {
                    Change::Added { elsewhere: e, .. } => format!("added{}", elsewhere(e)),
                    Change::Removed { elsewhere: e, .. } => format!("removed{}", elsewhere(e)),
                    Change::Moved {
                        from, to, fields, ..
                    } => {
                        let mut t = format!("moved from {} to {}", place(from), place(to));
                        for f in fields {
                            t += &format!("; {}", value_change(f, |o, n| format!("~~{o}~~ {n}")));
                        }
                        t
                    }
                    Change::Changed { fields, .. } => fields
                        .iter()
                        .map(|f| value_change(f, |o, n| format!("~~{o}~~ {n}")))
                        .collect::<Vec<_>>()
                        .join("; "),
                    Change::Unknown { reason, .. } => format!("unknown: {reason}"),
                };
                let marker = line(c).0;
                let _ = writeln!(
                    out,
                    "| {marker} | `{}` | {} | {} |",
                    cell(c.key()),
                    cell(&label(item)),
                    cell(&details)
                );
            }
        }
    }
    if !report.errors.is_empty() {
        out.push_str("\n## Unreadable snapshots\n\n");
        for e in &report.errors {
            let _ = writeln!(out, "- {}", cell(e));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff_marks_only_what_changed() {
        assert_eq!(
            word_diff(
                "Cisco IOS Software, Version 15.0(2)SE11",
                "Cisco IOS Software, Version 15.2(7)E4"
            ),
            "Cisco IOS Software, Version [-15.0(2)SE11-]{+15.2(7)E4+}"
        );
    }
}
