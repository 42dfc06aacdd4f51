//! `invmon report`: the audit page and the inventory CSV of a store written
//! by invmon's own snapshot writer, and the page as a browser renders it.

use std::path::Path;
use std::process::Command;

use invmon::inventory::{Item, serial};
use invmon::snapshot::Status;
use invmon::snapshot::store::Store;

use crate::support::{Invmon, write_snapshot};

fn item(index: &str, class: &str, model: &str, serial: &str, name: &str) -> Item {
    Item {
        index: index.into(),
        class: class.into(),
        model: model.into(),
        serial: serial.into(),
        name: name.into(),
        path: vec!["Chassis".into()],
        ..Item::default()
    }
}

fn write(store: &Store, device: &str, at: &str, status: Status, items: &[Item]) {
    let mut items = items.to_vec();
    serial::flag_issues(&mut items);
    write_snapshot(store, device, at, status, &items);
}

/// Day 1 and day 2 of four devices: an optic moved from r1 to r2, a PSU
/// replaced on r1, a serial cloned onto two devices, a placeholder serial,
/// r3 failed on day 2 and r4 not collected on day 2.
fn store(dir: &Path) {
    let store = Store::new(dir.join("snapshots"));
    let chassis = |s: &str| item("1", "chassis", "C9300-48P", s, "Chassis");
    let (d1, d2) = ("2026-03-01T06:00:00Z", "2026-03-02T06:00:00Z");
    let optic = item("1001", "port", "SFP-10G-LR", "FNS0MOVED", "Te1/1/1");
    let psu = |s: &str| item("1002", "powerSupply", "PWR-C1-715WAC", s, "PSU <1> & \"A\"");
    let placeholder = item("1003", "fan", "FAN-T1", "UNKNOWN", "Fan 1");
    write(
        &store,
        "r1",
        d1,
        Status::Ok,
        &[
            chassis("FOC1"),
            optic.clone(),
            psu("LIT1OLD"),
            placeholder.clone(),
        ],
    );
    write(
        &store,
        "r1",
        d2,
        Status::Ok,
        &[
            chassis("FOC1"),
            psu("LIT1NEW"),
            placeholder,
            item("1004", "port", "SFP-10G-SR", "CLONED1", "Te1/1/2"),
        ],
    );
    write(&store, "r2", d1, Status::Ok, &[chassis("FOC2")]);
    write(
        &store,
        "r2",
        d2,
        Status::Ok,
        &[
            chassis("FOC2"),
            optic,
            item("1004", "port", "SFP-10G-SR", "CLONED1", "Te1/1/4"),
        ],
    );
    write(&store, "r3", d1, Status::Ok, &[chassis("FOC3")]);
    write(&store, "r3", d2, Status::Failed, &[]);
    write(&store, "r4", d1, Status::Ok, &[chassis("FOC4")]);
}

fn report(dir: &Path) -> (crate::support::Run, String, String) {
    let run = Invmon::new(dir)
        .args([
            "report",
            "--snapshots",
            "snapshots",
            "--html",
            "report.html",
            "--csv",
            "inventory.csv",
        ])
        .run();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap_or_default();
    let csv = std::fs::read_to_string(dir.join("inventory.csv")).unwrap_or_default();
    (run, html, csv)
}

/// The table with `id`, from its opening tag to its end.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id} in\n{html}"));
    let end = start + html[start..].find("</table>").unwrap();
    &html[start..end]
}

#[test]
fn the_audit_page_tells_changes_inventory_serials_and_failures_and_the_csv_every_item() {
    let work = tempfile::tempdir().unwrap();
    store(work.path());
    let (run, html, csv) = report(work.path());
    assert_eq!(run.code, Some(0), "{}", run.all());

    // Self-contained: nothing is fetched from anywhere.
    for outside in ["http://", "https://", "src=", "<link", "<script"] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
    // Values are text, never markup.
    assert!(
        html.contains("PSU &lt;1&gt; &amp; ") && !html.contains("PSU <1>"),
        "{html}"
    );

    let r1 = table(&html, "changes-r1");
    assert!(
        r1.contains("<tr class=\"added\"><td>added</td><td>LIT1NEW"),
        "{r1}"
    );
    assert!(
        r1.contains("<tr class=\"removed\"><td>removed</td><td>LIT1OLD"),
        "{r1}"
    );
    let r2 = table(&html, "changes-r2");
    assert!(
        r2.contains("<td>moved</td><td>FNS0MOVED") && r2.contains("from r1 Chassis to r2 Chassis"),
        "{r2}"
    );
    // A cloned serial arriving on two devices is told on both, never folded into a move.
    assert!(
        r1.contains("CLONED1") && r2.contains("CLONED1"),
        "{r1}\n{r2}"
    );

    let attention = table(&html, "attention-table");
    assert!(
        attention.contains("<td>r3</td><td>failed</td>"),
        "{attention}"
    );
    assert!(
        attention.contains("<td>r4</td><td>missing</td>"),
        "{attention}"
    );

    let inventory = table(&html, "inventory-table");
    assert!(
        inventory.contains("<td>cisco</td><td>C9300-48P</td><td>chassis</td><td class=\"n\">2</td><td class=\"n\">2</td><td class=\"n\">0</td>"),
        "the chassis of r1 and r2, not r3 (failed: it vouches for nothing) or r4 (missing): {inventory}"
    );
    let quality = table(&html, "serial-quality-table");
    assert!(
        quality.contains("<td>known placeholder serial</td><td class=\"n\">1</td>"),
        "{quality}"
    );
    let duplicates = table(&html, "duplicates-table");
    assert!(
        duplicates.contains("<td>CLONED1</td><td>r1: Te1/1/2; r2: Te1/1/4</td>"),
        "{duplicates}"
    );

    // The CSV has every present item of the newer sides, one per row.
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..3], ["device", "site", "vendor"]);
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    let mut serials: Vec<(&str, &str)> = records.iter().map(|r| (&r[0], &r[7])).collect();
    serials.sort_unstable();
    assert_eq!(
        serials,
        [
            ("r1", "CLONED1"),
            ("r1", "FOC1"),
            ("r1", "LIT1NEW"),
            ("r1", "UNKNOWN"),
            ("r2", "CLONED1"),
            ("r2", "FNS0MOVED"),
            ("r2", "FOC2"),
        ],
        "{csv}"
    );
    // --skip-failed takes a failed device's inventory from its newest complete snapshot.
    let run = Invmon::new(work.path())
        .args([
            "report",
            "--skip-failed",
            "--snapshots",
            "snapshots",
            "--csv",
            "inventory.csv",
        ])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let csv = std::fs::read_to_string(work.path().join("inventory.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("r3,") && l.contains(",FOC3,")),
        "{csv}"
    );

    let na = records.iter().find(|r| &r[7] == "UNKNOWN").unwrap();
    assert_eq!(&na[8], "known placeholder serial \"UNKNOWN\"");
}

#[test]
fn an_unreadable_snapshot_makes_an_incomplete_report_that_names_it() {
    let work = tempfile::tempdir().unwrap();
    store(work.path());
    let r2 = work.path().join("snapshots/r2");
    let newest = std::fs::read_dir(&r2)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    std::fs::write(&newest, b"not zstd").unwrap();
    let (run, html, _) = report(work.path());
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(
        run.stderr.contains(&newest.display().to_string()),
        "{}",
        run.all()
    );
    assert!(html.contains("Incomplete report"), "{html}");
    assert!(table(&html, "errors-table").contains("r2"), "{html}");
}

#[test]
fn a_report_needs_somewhere_to_go() {
    let work = tempfile::tempdir().unwrap();
    store(work.path());
    let run = Invmon::new(work.path())
        .args(["report", "--snapshots", "snapshots"])
        .run();
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("--html") && run.stderr.contains("--csv"),
        "{}",
        run.all()
    );
}

/// Share of pixels in a PNG that are not (nearly) white.
fn inked(png_path: &Path) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let total = pixels.len() / channels;
    let inked = pixels
        .chunks(channels)
        .filter(|p| p.iter().take(3).any(|&c| c < 200))
        .count();
    inked as f64 / total as f64
}

#[test]
#[ignore = "needs chromium (Debian's chromium package; scripts/test installs it)"]
fn the_page_renders_in_headless_chromium_with_its_tables() {
    let work = tempfile::tempdir().unwrap();
    store(work.path());
    let (run, _, _) = report(work.path());
    assert_eq!(run.code, Some(0), "{}", run.all());
    let page = format!("file://{}", work.path().join("report.html").display());
    let shot = work.path().join("report.png");
    // No network for the browser: a page that fetched anything would show it broken.
    let chromium = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args([
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--window-size=1100,1400",
            ])
            .args(extra)
            .arg(&page)
            .env("HOME", work.path())
            .output()
            .expect("chromium runs (Debian's chromium package; scripts/test installs it)")
    };
    let out = chromium(&[&format!("--screenshot={}", shot.display())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ink = inked(&shot);
    assert!(
        ink > 0.02,
        "the screenshot is blank: {:.4} of its pixels inked",
        ink
    );

    // The DOM as the browser built it holds the key tables and their cells.
    let out = chromium(&["--dump-dom"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    for id in [
        "attention-table",
        "changes-r1",
        "changes-r2",
        "inventory-table",
        "serial-quality-table",
        "duplicates-table",
    ] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "no {id} in the rendered page"
        );
    }
    assert!(dom.contains("FNS0MOVED"));
}
