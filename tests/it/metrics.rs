//! Metrics files for cron: the node_exporter textfile format, checked by
//! Prometheus's own promtool, and a last success that only success moves.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::sal::SalServer;
use crate::support::{Fleet, Invmon, Replay, collect, recordings};

/// Series → value of a metrics file, after promtool has accepted it.
fn checked(path: &Path) -> BTreeMap<String, f64> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(path).unwrap())
        .output()
        .expect("promtool runs (Debian's prometheus package; scripts/test installs it)");
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (s, v) = l.rsplit_once(' ').unwrap();
            (s.to_owned(), v.parse().unwrap())
        })
        .collect()
}

#[test]
#[ignore = "needs promtool (Debian's prometheus package; scripts/test installs it)"]
fn cron_metrics_are_valid_and_only_success_moves_the_last_success() {
    let recs = recordings(&[("cisco-c3750", "good"), ("cisco-c3750", "gone")]);
    let agent = Replay::simulating(
        recs.path(),
        r#"{"rules": [{"match": "gone", "dead": true}]}"#,
    );
    let work = tempfile::tempdir().unwrap();
    let prom = work.path().join("collect.prom");
    let metrics = ["--metrics-file", prom.to_str().unwrap()];

    Fleet::new()
        .v2c("good", &agent.addr, "good")
        .write(work.path());
    let first = collect(work.path()).args(metrics).run();
    assert_eq!(first.code, Some(0), "{}", first.all());
    let m = checked(&prom);
    let success = m["invmon_collect_last_success_timestamp_seconds"];
    assert_eq!(success, m["invmon_collect_last_run_timestamp_seconds"]);
    assert_eq!(m["invmon_collect_success"], 1.0);
    assert_eq!(m["invmon_collect_devices{outcome=\"ok\"}"], 1.0);
    assert!(m["invmon_collect_snmp_requests"] > 0.0);
    assert!(m["invmon_collect_items"] > 0.0);
    let good_ok = m["invmon_collect_device_last_ok_timestamp_seconds{device=\"good\"}"];

    std::thread::sleep(std::time::Duration::from_millis(20));
    Fleet::new()
        .v2c("good", &agent.addr, "good")
        .v2c("gone", &agent.addr, "gone")
        .write(work.path());
    let second = collect(work.path())
        .args(metrics)
        .args(["--snmp-timeout", "0.2", "--snmp-retries", "0"])
        .run();
    assert_eq!(second.code, Some(3), "{}", second.all());
    let m = checked(&prom);
    assert_eq!(
        m["invmon_collect_last_success_timestamp_seconds"], success,
        "a failed run moves no success"
    );
    assert!(m["invmon_collect_last_run_timestamp_seconds"] > success);
    assert_eq!(m["invmon_collect_success"], 0.0);
    assert_eq!(m["invmon_collect_devices{outcome=\"failed\"}"], 1.0);
    assert!(m["invmon_collect_snmp_timeouts"] >= 1.0);
    assert!(m["invmon_collect_device_last_ok_timestamp_seconds{device=\"good\"}"] > good_ok);
    assert!(
        !m.contains_key("invmon_collect_device_last_ok_timestamp_seconds{device=\"gone\"}"),
        "never collected, so never ok"
    );
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Shipping: one series per destination; a destination that fails keeps its last success.
    let sal = SalServer::start(&["k"]);
    let ship_prom = work.path().join("ship.prom");
    let ship = |url: &str| {
        Invmon::new(work.path())
            .args([
                "ship",
                "--to",
                "sal",
                "--snapshots",
                "snapshots",
                "--sal-retry-delay",
                "0.05",
            ])
            .args(["--metrics-file", ship_prom.to_str().unwrap()])
            .env("SAL_URL", url)
            .env("SAL_KEY", "k")
            .run()
    };
    let shipped = ship(&sal.url);
    assert_eq!(shipped.code, Some(0), "{}", shipped.all());
    let m = checked(&ship_prom);
    let to = |name: &str| format!("{name}{{destination=\"sal\"}}");
    let shipped_at = m[&to("invmon_ship_last_success_timestamp_seconds")];
    assert_eq!(m[&to("invmon_ship_success")], 1.0);
    assert!(m[&to("invmon_ship_requests")] >= 1.0);
    assert!(m[&to("invmon_ship_snapshots")] >= 1.0);
    collect(work.path())
        .args(["--snmp-timeout", "0.2", "--snmp-retries", "0"])
        .run();
    let refused = ship("http://127.0.0.1:9");
    assert_ne!(refused.code, Some(0), "{}", refused.all());
    let m = checked(&ship_prom);
    assert_eq!(
        m[&to("invmon_ship_last_success_timestamp_seconds")],
        shipped_at
    );
    assert_eq!(m[&to("invmon_ship_success")], 0.0);
}
