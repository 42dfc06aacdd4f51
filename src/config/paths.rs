//! Where files go when no flag or setting says. A build from source keeps
//! the seed tool's habit, paths relative to the working directory (`.env`,
//! `snapshots/`, `logs/`); the system package (feature `system-paths`) uses
//! the Filesystem Hierarchy Standard's places, so that a run from a timer, a
//! cron job or a shell in any directory finds the same files.

#[cfg(not(feature = "system-paths"))]
mod chosen {
    pub const ENV_FILE: &str = ".env";
    pub const SNAPSHOTS: &str = "snapshots";
    pub const STATE: &str = "state";
    pub const LOGS: &str = "logs";
}

#[cfg(feature = "system-paths")]
mod chosen {
    pub const ENV_FILE: &str = "/etc/invmon/invmon.env";
    pub const SNAPSHOTS: &str = "/var/lib/invmon/snapshots";
    pub const STATE: &str = "/var/lib/invmon/state";
    pub const LOGS: &str = "/var/log/invmon";
}

pub use chosen::*;
