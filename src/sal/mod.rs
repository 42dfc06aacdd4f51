//! Sal, the second destination: its checkin contract and the client that
//! posts checkins.

pub mod client;
pub mod contract;
