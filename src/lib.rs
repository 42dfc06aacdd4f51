//! invmon: an auditable record of network hardware.
//!
//! The pipeline, one module per stage: device targets (`config`) → SNMP
//! transport (`snmp`) → recorded walks (`walk`) → vendor parsers
//! (`inventory`) → snapshot store (`snapshot`), driven by `collect`;
//! `replay` serves recorded walks as an SNMP agent.

mod atomic;
pub mod cli;
pub mod collect;
pub mod config;
pub mod diff;
#[doc(hidden)]
pub mod fuzzing;
pub mod history;
pub mod http;
pub mod inventory;
mod lock;
pub mod metrics;
pub mod netbox;
mod pool;
pub mod progress;
pub mod provenance;
pub mod replay;
pub mod report;
pub mod sal;
pub mod ship;
pub mod snapshot;
pub mod snmp;
pub mod text;
pub mod walk;
