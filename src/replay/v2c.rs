//! SNMPv1/v2c answered straight from the recordings: decode, look up, encode.
//! No per-request task or allocation beyond the answer itself.

use snmp2::MessageType;

use std::time::Duration;

use super::Recordings;
use super::sim::{Bulk, Fate, Simulation};
use crate::snmp::ber;
use crate::walk::Oid;

/// Largest answer sent; GETBULK answers stop short of it (RFC 3416 allows that).
const MAX_ANSWER: usize = 60_000;
/// noSuchName, the SNMPv1 way of saying "nothing there".
const NO_SUCH_NAME: i64 = 2;
const TOO_BIG: i64 = 1;
const GEN_ERR: i64 = 5;

struct Answer {
    varbinds: Vec<u8>,
    error: Option<(i64, i64)>,
}

impl Answer {
    fn push(&mut self, oid: &Oid, value: &[u8]) {
        let mut vb = ber::oid(oid);
        vb.extend_from_slice(value);
        ber::push(&mut self.varbinds, ber::SEQUENCE, &vb);
    }
}

/// The answer to one request datagram and when to send it, or `None` to
/// stay silent (unknown community, undecodable request, an operation replay
/// does not serve, or the simulation losing it).
pub fn respond(
    recordings: &Recordings,
    sim: &Simulation,
    msg: &[u8],
) -> Option<(Vec<u8>, Duration)> {
    if !sim.admit() {
        return None;
    }
    let version = ber::message_version(msg)?;
    let pdu = snmp2::Pdu::from_bytes(msg).ok()?;
    let walk = recordings.named(pdu.community)?;
    let asked: Vec<Oid> = pdu
        .varbinds
        .clone()
        .map(|(o, _)| Oid::from_ber(o.as_bytes()))
        .collect::<Option<_>>()?;
    let profile = sim.of(pdu.community);
    let Fate::After(delay) = profile.fate(&asked) else {
        return None;
    };
    let v1 = version == 0;
    let mut answer = Answer {
        varbinds: Vec::with_capacity(1500),
        error: None,
    };
    let missing = |answer: &mut Answer, index: usize, oid: &Oid, tag: u8| {
        if v1 {
            answer.error.get_or_insert((NO_SUCH_NAME, index as i64 + 1));
            answer.push(oid, &ber::tlv(ber::NULL, &[]));
        } else {
            answer.push(oid, &ber::tlv(tag, &[]));
        }
    };
    match pdu.message_type {
        MessageType::GetRequest => {
            for (i, oid) in asked.iter().enumerate() {
                match walk.get(oid) {
                    Some(v) => answer.push(oid, &ber::value(v)),
                    None => missing(&mut answer, i, oid, ber::NO_SUCH_INSTANCE),
                }
            }
        }
        MessageType::GetNextRequest => {
            for (i, oid) in asked.iter().enumerate() {
                match walk.after(oid.arcs()) {
                    Some((next, v)) => answer.push(next, &ber::value(v)),
                    None => missing(&mut answer, i, oid, ber::END_OF_MIB_VIEW),
                }
            }
        }
        MessageType::GetBulkRequest if !v1 && profile.getbulk == Bulk::Ignore => return None,
        MessageType::GetBulkRequest if !v1 && profile.getbulk == Bulk::Break => {
            answer.error = Some((GEN_ERR, 0));
        }
        MessageType::GetBulkRequest if !v1 => {
            // For GETBULK, snmp2 reads non-repeaters and max-repetitions into the error fields.
            let non_repeaters = (pdu.error_status as usize).min(asked.len());
            let max_repetitions = pdu.error_index.min(10_000);
            for oid in &asked[..non_repeaters] {
                match walk.after(oid.arcs()) {
                    Some((next, v)) => answer.push(next, &ber::value(v)),
                    None => answer.push(oid, &ber::tlv(ber::END_OF_MIB_VIEW, &[])),
                }
            }
            // Each repeater's cursor is a row position: one search, then O(1) per row.
            let mut cursors: Vec<(usize, Option<usize>)> = asked[non_repeaters..]
                .iter()
                .enumerate()
                .map(|(i, oid)| (i + non_repeaters, Some(walk.position_after(oid.arcs()))))
                .collect();
            'rows: for _ in 0..max_repetitions {
                if cursors.iter().all(|(_, c)| c.is_none()) {
                    break;
                }
                for (asked_index, cursor) in &mut cursors {
                    let Some(at) = *cursor else { continue };
                    match walk.row(at) {
                        Some((next, v)) => {
                            answer.push(next, &ber::value(v));
                            *cursor = Some(at + 1);
                        }
                        None => {
                            // endOfMibView names the OID asked (or the last one returned).
                            let last = at.checked_sub(1).and_then(|p| walk.row(p)).map(|(o, _)| o);
                            let name = last
                                .filter(|o| *o > &asked[*asked_index])
                                .unwrap_or(&asked[*asked_index]);
                            answer.push(name, &ber::tlv(ber::END_OF_MIB_VIEW, &[]));
                            *cursor = None;
                        }
                    }
                    if answer.varbinds.len() > MAX_ANSWER {
                        break 'rows;
                    }
                }
            }
        }
        _ => return None,
    }
    let (status, index) = answer.error.unwrap_or((0, 0));
    let reply = |status, index, varbinds: &[u8]| {
        let mut pdu_body = ber::int(i64::from(pdu.req_id));
        pdu_body.extend(ber::int(status));
        pdu_body.extend(ber::int(index));
        ber::push(&mut pdu_body, ber::SEQUENCE, varbinds);
        let mut body = ber::int(version);
        ber::push(&mut body, ber::OCTET_STRING, pdu.community);
        ber::push(&mut body, ber::GET_RESPONSE, &pdu_body);
        ber::tlv(ber::SEQUENCE, &body)
    };
    let mut message = reply(status, index, &answer.varbinds);
    // RFC 3416 4.2.1: an answer too big to send becomes tooBig, without varbinds.
    if profile.too_big(message.len()) {
        message = reply(TOO_BIG, 0, &[]);
    }
    Some((message, delay))
}
