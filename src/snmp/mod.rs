//! SNMP transport: owned OIDs and values.

pub mod oid;
pub mod value;

pub use oid::Oid;
pub use value::Value;
