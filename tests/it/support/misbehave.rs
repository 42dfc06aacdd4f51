//! A v2c agent that misbehaves on purpose, for faults real agents will not
//! produce on demand. Serves a recording, then breaks as told.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use invmon::snmp::ber::{self, int, tlv};
use invmon::walk::{Oid, Value};

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answer this many requests, then never again.
    SilentAfter(usize),
    /// Swap the order of every GETBULK answer after the first few rows.
    NonIncreasing,
    /// Send an NsapAddress (tag 0x45, which no decoder here knows) in place of
    /// the value of any entPhysicalSerialNum.
    UnknownTag,
    /// Answer the first GETBULK late, after the client's timeout.
    LateFirstBulk(Duration),
}

pub struct Misbehaving {
    pub addr: String,
    stop: Arc<AtomicBool>,
}

impl Drop for Misbehaving {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn response(community: &[u8], req_id: i32, varbinds: &[(Oid, Vec<u8>)]) -> Vec<u8> {
    let vbs: Vec<u8> = varbinds
        .iter()
        .flat_map(|(o, v)| tlv(0x30, &[ber::oid(o), v.clone()].concat()))
        .collect();
    let pdu = tlv(
        0xa2,
        &[int(i64::from(req_id)), int(0), int(0), tlv(0x30, &vbs)].concat(),
    );
    tlv(0x30, &[int(1), tlv(0x04, community), pdu].concat())
}

const SERIAL_COLUMN: [u32; 12] = [1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 11];

impl Misbehaving {
    pub fn start(recording: &str, fault: Fault) -> Misbehaving {
        let walk =
            invmon::walk::snmprec::read(&super::walks().join(format!("{recording}.snmprec")))
                .unwrap();
        let rows: Vec<(Oid, Value)> = walk.iter().map(|(o, v)| (o.clone(), v.clone())).collect();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65535];
            let mut bulks = 0usize;
            while !stop2.load(Ordering::SeqCst) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(pdu) = snmp2::Pdu::from_bytes(&buf[..n]) else {
                    continue;
                };
                let seen = requests2.fetch_add(1, Ordering::SeqCst);
                if let Fault::SilentAfter(limit) = fault
                    && seen >= limit
                {
                    continue;
                }
                let community = pdu.community.to_vec();
                let asked: Vec<Oid> = pdu
                    .varbinds
                    .clone()
                    .map(|(o, _)| Oid::from_ber(o.as_bytes()).unwrap())
                    .collect();
                let encode = |o: &Oid, v: &Value| -> Vec<u8> {
                    if matches!(fault, Fault::UnknownTag) && o.arcs().starts_with(&SERIAL_COLUMN) {
                        tlv(0x45, b"\x01\x02")
                    } else {
                        ber::value(v)
                    }
                };
                let next = |o: &Oid| rows.iter().find(|(r, _)| r > o);
                let varbinds: Vec<(Oid, Vec<u8>)> = match pdu.message_type {
                    snmp2::MessageType::GetRequest => asked
                        .iter()
                        .map(|o| match rows.iter().find(|(r, _)| r == o) {
                            Some((r, v)) => (r.clone(), encode(r, v)),
                            None => (o.clone(), tlv(0x81, &[])),
                        })
                        .collect(),
                    snmp2::MessageType::GetNextRequest => asked
                        .iter()
                        .map(|o| match next(o) {
                            Some((r, v)) => (r.clone(), encode(r, v)),
                            None => (o.clone(), tlv(0x82, &[])),
                        })
                        .collect(),
                    snmp2::MessageType::GetBulkRequest => {
                        bulks += 1;
                        if let Fault::LateFirstBulk(delay) = fault
                            && bulks == 1
                        {
                            std::thread::sleep(delay);
                        }
                        let max = pdu.error_index.clamp(1, 50) as usize;
                        let mut out = Vec::new();
                        let mut cursor = asked[0].clone();
                        for _ in 0..max {
                            match next(&cursor) {
                                Some((r, v)) => {
                                    out.push((r.clone(), encode(r, v)));
                                    cursor = r.clone();
                                }
                                None => {
                                    out.push((cursor.clone(), tlv(0x82, &[])));
                                    break;
                                }
                            }
                        }
                        if matches!(fault, Fault::NonIncreasing) && bulks > 1 && out.len() > 2 {
                            out.swap(0, 1);
                        }
                        out
                    }
                    _ => continue,
                };
                let _ = socket.send_to(&response(&community, pdu.req_id, &varbinds), peer);
            }
        });
        Misbehaving { addr, stop }
    }
}
