//! The record stays right: one history per device name, every Juniper
//! generation's hardware, a word when no table answers, no leftovers from
//! killed runs, and no panic on any input the suite can think of.

use std::io::{BufRead, BufReader};

use invmon::snapshot::Status;
use invmon::snapshot::checkin::ItemStatus;

use crate::support::*;

/// Two devices whose names older versions mapped to one directory.
#[test]
fn names_that_once_shared_a_directory_keep_two_histories() {
    let recs = recordings(&[("cisco-c3750", "cisco"), ("timos_7750", "nokia")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    Fleet::new()
        .v2c("core sw1", &agent.addr, "cisco")
        .v2c("core_sw1", &agent.addr, "nokia")
        .write(work.path());
    for _ in 0..2 {
        let run = collect(work.path()).run();
        assert_eq!(run.code, Some(0), "{}", run.all());
    }
    let cisco = latest(work.path(), "core sw1");
    assert_eq!(cisco.device.name, "core sw1");
    assert_eq!(
        cisco.checkin.sources["SNMP Inventory"].facts["vendor_parser"],
        "cisco"
    );
    let nokia = latest(work.path(), "core_sw1");
    assert_eq!(
        nokia.checkin.sources["SNMP Inventory"].facts["vendor_parser"],
        "nokia"
    );
    let show = Invmon::new(work.path())
        .args(["snapshots", "show", "core sw1"])
        .run();
    assert_eq!(show.code, Some(0), "{}", show.all());
    assert!(
        show.stdout.contains("\"name\": \"core sw1\""),
        "{}",
        show.stdout
    );
    for device in ["core sw1", "core_sw1"] {
        let run = Invmon::new(work.path()).args(["diff", device]).run();
        assert_eq!(run.code, Some(0), "{device}: {}", run.all());
        assert!(run.stdout.contains(" 0 added, 0 removed"), "{}", run.stdout);
    }
    let list = Invmon::new(work.path()).args(["snapshots", "list"]).run();
    assert_eq!(list.code, Some(0), "{}", list.all());
    assert!(
        list.stdout.contains("core sw1\t2 snapshots"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("core_sw1\t2 snapshots"),
        "{}",
        list.stdout
    );
}

/// A store written before names were encoded: the first collect splits it.
#[test]
fn a_legacy_store_is_split_by_the_next_collect() {
    let recs = recordings(&[("cisco-c3750", "cisco"), ("timos_7750", "nokia")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    Fleet::new()
        .v2c("core sw1", &agent.addr, "cisco")
        .v2c("core_sw1", &agent.addr, "nokia")
        .write(work.path());
    assert_eq!(collect(work.path()).run().code, Some(0));
    // Fold the store back into the old layout: both in core_sw1/, no marker.
    let root = work.path().join("snapshots");
    for entry in std::fs::read_dir(root.join("core%20sw1")).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), root.join("core_sw1").join(entry.file_name())).unwrap();
    }
    std::fs::remove_dir(root.join("core%20sw1")).unwrap();
    std::fs::remove_file(root.join(".layout")).unwrap();
    let run = Invmon::new(work.path()).args(["diff", "core_sw1"]).run();
    assert_eq!(
        run.code,
        Some(2),
        "a stranger in the directory is trouble: {}",
        run.all()
    );
    assert!(
        run.stderr
            .contains("a snapshot of device \"core sw1\", not of \"core_sw1\""),
        "{}",
        run.stderr
    );
    assert_eq!(collect(work.path()).run().code, Some(0));
    assert_eq!(
        std::fs::read_dir(root.join("core%20sw1")).unwrap().count(),
        2,
        "the old snapshot moved beside the new one"
    );
    let run = Invmon::new(work.path()).args(["diff", "core_sw1"]).run();
    assert_eq!(run.code, Some(0), "{}", run.all());
}

#[test]
fn junos_evolved_hardware_is_read_from_entity_mib() {
    let recs = recordings(&[("junos-evo-mx960", "evo")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    Fleet::new()
        .v2c("evo", &agent.addr, "evo")
        .write(work.path());
    let run = collect(work.path()).run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let snap = latest(work.path(), "evo");
    let items = present_items(&snap);
    let count = |class: &str| items.iter().filter(|i| i.class == class).count();
    assert_eq!(count("powerSupply"), 4, "PEM 0-3");
    assert_eq!(count("port"), 37, "every optic");
    assert_eq!(count("chassis"), 1);
    assert_eq!(
        snap.checkin.sources["SNMP Inventory"].facts["vendor_parser"],
        "juniper"
    );
    assert_eq!(snap.checkin.machine.extra_data["serial"], "JN11F7072AFA");
}

#[test]
fn a_device_without_inventory_tables_says_so_and_proves_nothing_absent() {
    let work = tempfile::tempdir().unwrap();
    let recs = tempfile::tempdir().unwrap();
    let run_with = |recording: &str| {
        let source = recordings(&[(recording, "host")]);
        std::fs::copy(
            source.path().join("host.snmprec"),
            recs.path().join("host.snmprec"),
        )
        .unwrap();
        let agent = Replay::start(recs.path(), &[]);
        Fleet::new()
            .v2c("host", &agent.addr, "host")
            .write(work.path());
        collect(work.path()).run()
    };
    // A Linux host never had a hardware table: ok, with a message naming the tables tried.
    let run = run_with("linux-net-snmp");
    assert_eq!(run.code, Some(0), "{}", run.all());
    let snap = latest(work.path(), "host");
    assert_eq!(snap.outcome.status, Status::Ok);
    assert!(
        messages(&snap).contains("no inventory table did: tried ENTITY-MIB entPhysicalTable"),
        "{}",
        messages(&snap)
    );
    // A device that had items and now answers no table: partial, nothing ABSENT.
    assert_eq!(run_with("cisco-c3750").code, Some(0));
    let run = run_with("linux-net-snmp");
    assert_eq!(run.code, Some(3), "{}", run.all());
    let snap = latest(work.path(), "host");
    assert_eq!(snap.outcome.status, Status::Partial);
    assert!(
        snap.outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("nothing is inferred absent"),
        "{:?}",
        snap.outcome
    );
    assert!(
        snap.checkin.sources["SNMP Inventory"]
            .managed_items
            .values()
            .all(|m| m.status != ItemStatus::Absent)
    );
}

#[test]
fn leftovers_of_killed_runs_are_swept() {
    let recs = recordings(&[("cisco-c3750", "r1")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    Fleet::new().v2c("r1", &agent.addr, "r1").write(work.path());
    assert_eq!(collect(work.path()).args(["--raw"]).run().code, Some(0));
    let dir = work.path().join("snapshots/r1");
    // What writers killed at the wrong moment leave: pid 4194304 never runs.
    for name in [
        ".2026-11-01T00-00-00.000Z.json.zst.4194304.0.tmp",
        ".2026-11-01T00-00-00.000Z.json.zst.4194304.tmp",
        ".2026-11-01T00-00-00.000Z.snmprec.4194304.1.tmp",
    ] {
        std::fs::write(dir.join(name), b"half").unwrap();
    }
    assert_eq!(collect(work.path()).args(["--raw"]).run().code, Some(0));
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, 4, "two snapshots and their two raw walks");
}

#[test]
fn snapshots_list_counts_present_items_only() {
    let work = tempfile::tempdir().unwrap();
    let recs = tempfile::tempdir().unwrap();
    let run_with = |text: String| {
        std::fs::write(recs.path().join("r1.snmprec"), text).unwrap();
        let agent = Replay::start(recs.path(), &[]);
        Fleet::new().v2c("r1", &agent.addr, "r1").write(work.path());
        collect(work.path()).run()
    };
    let full = std::fs::read_to_string(walks().join("cisco-c3750.snmprec")).unwrap();
    assert_eq!(run_with(full.clone()).code, Some(0));
    // Without the power supply (entity 1003): one ABSENT tombstone.
    let without: String = full
        .lines()
        .filter(|l| {
            !(l.starts_with("1.3.6.1.2.1.47.1.1.1.1.")
                && l.split('|').next().unwrap().ends_with(".1003"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(run_with(without).code, Some(0));
    let run = Invmon::new(work.path())
        .args(["snapshots", "list", "r1"])
        .run();
    let counts: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.split('\t').nth(2).unwrap())
        .collect();
    let n = expected_items("cisco-c3750").len();
    assert_eq!(counts, [format!("{n} items"), format!("{} items", n - 1)]);
}

/// A reader that stops early (`| head -n 1`) never makes invmon panic.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    let work = tempfile::tempdir().unwrap();
    let store = invmon::snapshot::store::Store::new(work.path().join("snapshots"));
    // Enough output to fill the pipe: a few thousand devices, one big snapshot.
    let items = expected_items("cisco-controller");
    for i in 0..3000 {
        let mut s = invmon::snapshot::Snapshot::new(
            chrono::Utc::now(),
            invmon::snapshot::Device {
                name: format!("device-{i:04}"),
                ..Default::default()
            },
            invmon::snapshot::Outcome {
                status: Status::Ok,
                reason: None,
                duration_ms: 0,
            },
            Default::default(),
        );
        if i == 0 {
            s.checkin.sources.insert(
                "SNMP Inventory".into(),
                invmon::snapshot::checkin::Source {
                    managed_items: items
                        .iter()
                        .enumerate()
                        .map(|(n, item)| {
                            (
                                format!("{}#{n}", item.serial),
                                invmon::snapshot::checkin::ManagedItem {
                                    date_managed: "2026-11-01T00:00:00Z".into(),
                                    status: ItemStatus::Present,
                                    data: serde_json::to_value(item).unwrap().into(),
                                },
                            )
                        })
                        .collect(),
                    ..Default::default()
                },
            );
        }
        store.write(&mut s).unwrap();
    }
    for args in [
        vec!["snapshots", "list"],
        vec!["snapshots", "show", "device-0000"],
        vec!["diff", "--all", "--from", "2020-01-01", "--to", "latest"],
    ] {
        let mut child = Invmon::new(work.path()).args(&args).spawn_piped();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // Dropping the reader closes the pipe, as `head` does.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(!first.is_empty(), "{args:?}");
    }
}

#[test]
fn prune_refuses_what_it_cannot_read_without_panicking() {
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("snapshots")).unwrap();
    let prune = |args: &[&str]| {
        Invmon::new(work.path())
            .args(["snapshots", "prune", "--dry-run"])
            .args(args)
            .run()
    };
    for (args, expected) in [
        (
            &["--keep-within", "99999999999999d"][..],
            "longer than a hundred years",
        ),
        (
            &["--keep-within", "1m"][..],
            "ambiguous: write 1min for minutes",
        ),
        (&["--keep-within", "60"][..], "has no unit"),
        (&[][..], "give --keep-last N and/or --keep-within SPAN"),
    ] {
        let run = prune(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.all());
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    let help = Invmon::new(work.path())
        .args(["snapshots", "prune", "--help"])
        .run();
    assert!(!help.stdout.contains("[default: 0]"), "{}", help.stdout);
    assert_eq!(prune(&["--keep-within", "30d"]).code, Some(0));
}

#[test]
fn pruned_raw_walks_are_listed() {
    let recs = recordings(&[("cisco-c3750", "r1")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    Fleet::new().v2c("r1", &agent.addr, "r1").write(work.path());
    for _ in 0..2 {
        assert_eq!(collect(work.path()).args(["--raw"]).run().code, Some(0));
    }
    let run = Invmon::new(work.path())
        .args(["snapshots", "prune", "--keep-last", "1"])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let deleted: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("deleted "))
        .collect();
    assert_eq!(deleted.len(), 2, "{}", run.stdout);
    assert!(
        deleted.iter().any(|l| l.ends_with(".snmprec")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1 snapshot deleted, 1 kept"),
        "{}",
        run.stdout
    );
}

/// Settings are checked whether or not the run needs them, blamed on the
/// right name, and typos in the env file are pointed out.
#[test]
fn settings_are_checked_where_they_are_written() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("t.csv"), "name,address\nr1,127.0.0.1:9\n").unwrap();
    let collect_with = |env: &[(&str, &str)]| {
        let mut cmd = Invmon::new(work.path()).args([
            "collect",
            "--targets",
            "t.csv",
            "--snmp-timeout",
            "0.2",
            "--snmp-retries",
            "0",
        ]);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.run()
    };
    let run = collect_with(&[
        ("SNMP_VERSION", "2"),
        ("SNMP_COMMUNITY", "c"),
        ("SNMP_AUTH_METHOD", "bogus"),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr
            .contains("SNMP_AUTH_METHOD (--snmp-auth-method): \"bogus\""),
        "{}",
        run.stderr
    );
    let run = collect_with(&[
        ("SNMP_VERSION", "2d"),
        ("SNMP_COMMUNITY", "c"),
        ("SNMP_COMMUNITY__ASR9K", "x"),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("SNMP_VERSION (--snmp-version): \"2d\""),
        "the global setting is at fault, not the set: {}",
        run.stderr
    );
    // The sample's versions with sets nobody uses: no warnings about them.
    std::fs::write(
        work.path().join("sample.env"),
        "SNMP_VERSION=3,2\nSNMP_COMMUNITY=c\nSNMP_COMUNITY__EAST=x\nSNMP_COMMUNITY__WEST=w\nSNMP_COMUNITY=y\n",
    )
    .unwrap();
    let run = Invmon::new(work.path())
        .args([
            "collect",
            "--env-file",
            "sample.env",
            "-d",
            "x",
            "--address",
            "127.0.0.1:9",
            "--snmp-timeout",
            "0.2",
            "--snmp-retries",
            "0",
        ])
        .run();
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(!run.stderr.contains("__WEST"), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("lists 3 but SNMP_USER").count(),
        1,
        "once, for the profile in use: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "sample.env:5: SNMP_COMUNITY is not a setting of invmon and is ignored (did you mean SNMP_COMMUNITY?)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("sample.env:3: SNMP_COMUNITY__EAST"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_log_level_is_trouble_for_diff_too() {
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path())
        .args(["diff", "r1"])
        .env("LOG_LEVEL", "BOGUS")
        .run();
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("LOG_LEVEL (--log-level): \"BOGUS\""),
        "{}",
        run.stderr
    );
}
