//! Settings precedence, validation messages and exit codes.

use crate::support::*;

#[test]
fn precedence_is_flag_then_environment_then_env_file() {
    let recs = recordings(&[("cisco-c3750", "right")]);
    let agent = Replay::start(recs.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("targets.csv"),
        format!("name,address\nr1,{}\n", agent.addr),
    )
    .unwrap();
    std::fs::write(
        work.path().join("custom.env"),
        "SNMP_VERSION=2\nSNMP_COMMUNITY=wrong\n",
    )
    .unwrap();
    let base = || {
        Invmon::new(work.path()).args([
            "collect",
            "--env-file",
            "custom.env",
            "--targets",
            "targets.csv",
            "--snmp-timeout",
            "0.3",
        ])
    };
    // env file alone: the wrong community.
    assert_eq!(base().run().code, Some(3));
    // the environment beats the env file.
    let run = base().env("SNMP_COMMUNITY", "right").run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    // a flag beats the environment.
    let run = base()
        .env("SNMP_COMMUNITY", "wrong")
        .args(["--snmp-community", "right"])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    let run = base()
        .env("SNMP_COMMUNITY", "right")
        .env("SNMP_VERSION", "3")
        .args(["--snmp-version", "2"])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.all());
}

#[test]
fn invalid_settings_fail_fast_naming_the_setting() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("t.csv"), "name,address\nr1,127.0.0.1\n").unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 6] = [
        (
            &["--snmp-timeout", "soon"],
            &[("SNMP_COMMUNITY", "c")],
            "SNMP_TIMEOUT (--snmp-timeout): \"soon\"",
        ),
        (
            &[],
            &[("SNMP_COMMUNITY", "c"), ("PARALLEL_JOBS", "0")],
            "PARALLEL_JOBS (--parallel-jobs): \"0\"",
        ),
        (
            &[],
            &[
                ("SNMP_USER", "u"),
                ("SNMP_AUTH", "a"),
                ("SNMP_PRIVACY", "p"),
                ("SNMP_PRIVACY_METHOD", "3DES"),
            ],
            "3DES privacy is not supported",
        ),
        (
            &[],
            &[("SNMP_VERSION", "1")],
            "SNMP_VERSION (--snmp-version): \"1\" is not a supported SNMP version",
        ),
        (
            &[],
            &[
                ("SNMP_USER", "u"),
                ("SNMP_SECURITY", "authPriv"),
                ("SNMP_AUTH", "a"),
            ],
            "SNMP_PRIVACY (--snmp-privacy) is not set",
        ),
        (&[], &[], "no usable SNMP credentials"),
    ];
    for (args, env, expected) in cases {
        let mut cmd = Invmon::new(work.path())
            .args(["collect", "--targets", "t.csv"])
            .args(args);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let run = cmd.run();
        assert_eq!(run.code, Some(2), "{expected}: {}", run.all());
        assert!(
            run.stderr.contains(expected),
            "expected {expected:?} in {}",
            run.stderr
        );
    }
    let run = Invmon::new(work.path())
        .args(["collect", "--env-file", "missing.env"])
        .run();
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("env file missing.env"),
        "{}",
        run.stderr
    );
    let run = Invmon::new(work.path()).args(["collect", "--bogus"]).run();
    assert_eq!(run.code, Some(2), "usage errors exit 2");
    let run = Invmon::new(work.path())
        .args(["replay", "--dir", ".", "--listen", "0.0.0.0:1161"])
        .run();
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("not a loopback address"),
        "{}",
        run.stderr
    );
}

#[test]
fn seed_names_are_accepted() {
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path()).args(["collect", "--help"]).run();
    for flag in [
        "--env-file",
        "--device",
        "--snmp-version",
        "--snmp-community",
        "--snmp-user",
        "--snmp-auth",
        "--snmp-auth-method",
        "--snmp-privacy",
        "--snmp-privacy-method",
        "--snmp-security",
        "--snmp-timeout",
        "--snmp-retries",
        "--parallel-jobs",
        "--log-level",
        "--debug-dump",
    ] {
        assert!(
            run.stdout.contains(flag),
            "{flag} missing from collect --help"
        );
    }
    assert!(run.stdout.contains("-d, --device"));
}

/// The names an env sample sets or shows commented out.
fn sample_names(file: &str) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap();
    text.lines()
        .map(|l| l.trim_start_matches('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(name, _)| name.to_owned())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect()
}

/// Every setting read from the environment, across all commands.
fn settings(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
    for arg in cmd.get_arguments() {
        if let Some(env) = arg.get_env() {
            out.insert(env.to_string_lossy().into_owned());
        }
    }
    cmd.get_subcommands().for_each(|c| settings(c, out));
}

#[test]
fn the_two_host_profiles_name_every_setting_and_keep_each_hosts_secrets_apart() {
    use clap::CommandFactory;
    let collector = sample_names("collector.env.sample");
    let dmz = sample_names("dmz.env.sample");
    let mut all = std::collections::BTreeSet::new();
    settings(&invmon::cli::Cli::command(), &mut all);
    let named: std::collections::BTreeSet<String> = collector.union(&dmz).cloned().collect();
    let missing: Vec<&String> = all.difference(&named).collect();
    assert!(
        missing.is_empty(),
        "settings in neither sample: {missing:?}"
    );
    let unknown: Vec<&String> = named
        .iter()
        .filter(|n| !all.contains(*n) && !n.contains("__"))
        .collect();
    assert!(
        unknown.is_empty(),
        "samples name settings invmon does not read: {unknown:?}"
    );
    // The collector holds SNMP secrets only; the DMZ host NetBox's and Sal's only.
    assert!(
        collector
            .iter()
            .all(|n| !n.starts_with("NETBOX_") && !n.starts_with("SAL_")),
        "{collector:?}"
    );
    assert!(
        dmz.iter()
            .all(|n| !n.starts_with("SNMP_") && n != "INVMON_SIGNING_KEY"),
        "{dmz:?}"
    );
}

/// The seed's flags (inventory-monitor-scripts 1.0.0), without the dashes.
const SEED_FLAGS: [&str; 20] = [
    "env-file",
    "device",
    "snmp-version",
    "snmp-community",
    "snmp-user",
    "snmp-auth",
    "snmp-auth-method",
    "snmp-privacy",
    "snmp-privacy-method",
    "snmp-security",
    "snmp-timeout",
    "snmp-retries",
    "netbox-api-token",
    "netbox-url",
    "netbox-tags",
    "netbox-tags-exclude",
    "parallel-jobs",
    "log-level",
    "model-excludes",
    "debug-dump",
];

fn takes(cmd: &clap::Command, long: &str) -> bool {
    cmd.get_arguments().any(|a| a.get_long() == Some(long))
        || cmd.get_subcommands().any(|c| takes(c, long))
}

#[test]
fn every_seed_flag_is_taken_by_a_command_and_in_the_migration_table() {
    use clap::CommandFactory;
    let cli = invmon::cli::Cli::command();
    let table = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/seed-migration.md"),
    )
    .unwrap();
    for flag in SEED_FLAGS {
        assert!(takes(&cli, flag), "no command takes --{flag}");
        assert!(
            table.contains(&format!("`--{flag}")),
            "--{flag} is not in docs/seed-migration.md"
        );
    }
}

#[test]
fn a_flag_given_to_the_wrong_stage_names_the_commands_that_take_it() {
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path())
        .args(["collect", "--netbox-tags", "core"])
        .run();
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr
            .contains("--netbox-tags belongs to `invmon targets`"),
        "{}",
        run.stderr
    );
}

#[test]
fn messages_name_files_by_absolute_path() {
    let work = tempfile::tempdir().unwrap();
    let run = Invmon::new(work.path())
        .args(["collect", "--targets", "lists/missing.csv"])
        .env("SNMP_COMMUNITY", "x")
        .run();
    assert_eq!(run.code, Some(1), "{}", run.all());
    let absolute = work.path().join("lists/missing.csv");
    assert!(
        run.stderr.contains(&absolute.display().to_string()),
        "{}",
        run.stderr
    );
}
