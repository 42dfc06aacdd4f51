//! One integration-test binary (one link step on a 2-core machine).

mod cli;
mod collect;
mod diff;
mod faults;
mod golden;
mod history;
mod metrics;
mod netbox;
mod plan;
mod provenance;
mod record;
mod report;
mod sal;
mod secrets;
mod snmpsim;
mod support;
