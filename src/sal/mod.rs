//! Sal, the second destination: its checkin contract, the document a
//! snapshot becomes, the client that posts it, and the ship destination.

pub mod client;
pub mod contract;
pub mod document;
pub mod ship;
