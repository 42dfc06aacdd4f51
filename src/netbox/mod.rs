//! NetBox, the main destination: its REST client and the device-list export.

pub mod client;
pub mod targets;
