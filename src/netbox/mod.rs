//! NetBox, the main destination: its REST client and the device-list export.

pub mod apply;
pub mod client;
pub mod plan;
pub mod ship;
pub mod targets;
