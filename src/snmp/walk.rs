//! Subtree walking with GETBULK, degrading to GETNEXT for agents that break
//! on bulk requests, and refusing to loop on misbehaving agents.
//!
//! GETBULK sizing adapts per device: max-repetitions halves on tooBig (and
//! a limit below the failed size is learned, so it is not probed again) and
//! once per subtree on a timeout (large answers are what links and agents
//! drop; a size unanswered twice is learned as a limit too), and doubles
//! after each full answer, never above the setting or the learned limit. Every OID must be greater than the one before it, so a walk that
//! loops back to any earlier OID stops at once; rows and requests per
//! subtree are capped besides.

use super::{Oid, Reply, Session, SnmpError, TOO_BIG};
use crate::walk::{Value, Walk};

/// How a device is walked; shared by all subtrees of one device so a
/// fallback decided on the first table holds for the rest.
#[derive(Clone, Debug)]
pub struct Walker {
    /// The size of the next GETBULK.
    pub max_repetitions: u32,
    /// The largest size not known to fail on this device.
    limit: u32,
    /// The size of the last GETBULK that went unanswered.
    timed_out_at: Option<u32>,
    /// Upper bound on rows per subtree: protection against endless walks.
    pub max_rows: usize,
    bulk: bool,
    bulk_proven: bool,
    /// Why the walker left GETBULK, when it did.
    pub fallback: Option<String>,
    pub rows: usize,
}

impl Walker {
    pub fn new(max_repetitions: u32, max_rows: usize) -> Self {
        Self {
            max_repetitions: max_repetitions.max(1),
            limit: max_repetitions.max(1),
            timed_out_at: None,
            max_rows,
            bulk: true,
            bulk_proven: false,
            fallback: None,
            rows: 0,
        }
    }

    pub fn mode(&self) -> &'static str {
        if self.bulk { "getbulk" } else { "getnext" }
    }

    fn leave_bulk(&mut self, why: String) {
        self.bulk = false;
        self.fallback = Some(why);
    }

    /// Walks `subtree` into `out`; returns the rows added. On error the rows
    /// read so far stay in `out`, so a partial table is still visible.
    pub async fn walk<S: Session>(
        &mut self,
        session: &mut S,
        subtree: &Oid,
        out: &mut Walk,
    ) -> Result<usize, SnmpError> {
        // A subtree after every row so far (the common case) is walked
        // straight into the walk. Subtrees are not all walked in OID order,
        // though: another is gathered apart and merged once, since inserting
        // each row into the middle would move the rest.
        if out.ends_before(subtree) {
            let mut rows = std::mem::take(out).into_rows();
            let result = self.walk_into(session, subtree, &mut rows).await;
            *out = Walk::from_sorted(rows);
            return result;
        }
        let mut rows = Vec::new();
        let result = self.walk_into(session, subtree, &mut rows).await;
        out.extend_sorted(rows);
        result
    }

    async fn walk_into<S: Session>(
        &mut self,
        session: &mut S,
        subtree: &Oid,
        out: &mut Vec<(Oid, Value)>,
    ) -> Result<usize, SnmpError> {
        let mut cursor = subtree.clone();
        let mut rows = 0usize;
        let mut requests = 0usize;
        let mut shrunk_on_timeout = false;
        // Every request but the few that shrink a GETBULK brings a row.
        let max_requests = self.max_rows.saturating_add(64);
        loop {
            requests += 1;
            if requests > max_requests {
                return Err(SnmpError::TooManyRequests {
                    subtree: Box::new(subtree.clone()),
                    limit: max_requests,
                });
            }
            let response = if self.bulk {
                let asked = self.max_repetitions;
                match session.get_bulk(&cursor, asked).await {
                    Ok(r) if r.error_status == TOO_BIG => {
                        if asked > 1 {
                            // Row sizes differ between tables: learn a limit a
                            // quarter below the failed size, and go on at half.
                            self.limit = (asked * 3 / 4).max(1);
                            self.max_repetitions = asked / 2;
                        } else {
                            self.leave_bulk("agent answers tooBig even for one repetition".into());
                        }
                        continue;
                    }
                    Ok(r) if r.error_status != 0 => {
                        self.leave_bulk(format!(
                            "agent answered GETBULK with {}",
                            super::status_name(r.error_status)
                        ));
                        continue;
                    }
                    Err(SnmpError::Timeout(_)) if !self.bulk_proven && asked > 1 => {
                        // Silence on the first GETBULK: a lost answer, one too
                        // big for the path, or an agent that breaks on bulk.
                        // The smallest GETBULK tells them apart.
                        self.max_repetitions = 1;
                        continue;
                    }
                    Err(SnmpError::Timeout(_)) if !self.bulk_proven => {
                        // The agent answered the GET probe; silence on the
                        // smallest GETBULK too is the classic bulk-breaking agent.
                        self.leave_bulk("no answer to GETBULK; walking with GETNEXT".into());
                        continue;
                    }
                    Err(SnmpError::Timeout(_)) if asked > 1 && !shrunk_on_timeout => {
                        // Once per subtree, so that a device gone dead costs one
                        // more round of retries, not one per halving.
                        // One loss is no limit: the size grows back on
                        // success. The same size unanswered again is what
                        // the path drops (a large answer in IP fragments
                        // through a firewall): learned, as tooBig is.
                        if self.timed_out_at.is_some_and(|size| size <= asked) {
                            self.limit = (asked * 3 / 4).max(1);
                        }
                        self.timed_out_at = Some(asked);
                        shrunk_on_timeout = true;
                        self.max_repetitions = asked / 2;
                        continue;
                    }
                    Ok(r) => {
                        self.bulk_proven = true;
                        if r.varbinds.len() >= asked as usize {
                            self.max_repetitions = asked.saturating_mul(2).min(self.limit);
                        }
                        r
                    }
                    Err(e) => return Err(e),
                }
            } else {
                let r = session.get_next(&cursor).await?;
                if r.error_status == 2 {
                    return Ok(rows); // noSuchName: SNMPv1-style end of view
                }
                if r.error_status != 0 {
                    return Err(SnmpError::Agent {
                        status: r.error_status,
                        index: r.error_index,
                    });
                }
                r
            };
            if response.varbinds.is_empty() {
                // snmp2 stops decoding at the first value it cannot read.
                return Err(SnmpError::Undecodable {
                    after: Box::new(cursor),
                });
            }
            // The OID to go on from is the last row kept, borrowed rather
            // than copied per row; a varbind without a value moves it too.
            let mut at_last_row = false;
            for vb in response.varbinds {
                if vb.reply == Reply::EndOfMibView || !vb.oid.starts_with(subtree) {
                    return Ok(rows);
                }
                let previous = match out.last() {
                    Some((last, _)) if at_last_row => last,
                    _ => &cursor,
                };
                if vb.oid <= *previous {
                    return Err(SnmpError::NonIncreasing {
                        previous: Box::new(previous.clone()),
                        got: Box::new(vb.oid),
                    });
                }
                if let Reply::Value(v) = vb.reply {
                    out.push((vb.oid, v));
                    at_last_row = true;
                    rows += 1;
                    self.rows += 1;
                } else {
                    cursor = vb.oid;
                    at_last_row = false;
                }
                if rows > self.max_rows {
                    return Err(SnmpError::TooManyRows {
                        subtree: Box::new(subtree.clone()),
                        limit: self.max_rows,
                    });
                }
            }
            if let Some((last, _)) = out.last().filter(|_| at_last_row) {
                cursor = last.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::snmp::{Response, SessionStats, VarBind};
    use crate::walk::Value;

    /// A scripted agent: answers requests from a queue.
    struct Scripted(VecDeque<Result<Response, SnmpError>>);

    impl Session for Scripted {
        async fn get(&mut self, _: &[Oid]) -> Result<Response, SnmpError> {
            self.0.pop_front().unwrap()
        }
        async fn get_next(&mut self, _: &Oid) -> Result<Response, SnmpError> {
            self.0.pop_front().unwrap()
        }
        async fn get_bulk(&mut self, _: &Oid, _: u32) -> Result<Response, SnmpError> {
            self.0.pop_front().unwrap()
        }
        fn stats(&self) -> SessionStats {
            SessionStats::default()
        }
    }

    fn vb(oid: &str, v: i64) -> VarBind {
        VarBind {
            oid: oid.parse().unwrap(),
            reply: Reply::Value(Value::Integer(v)),
        }
    }

    fn resp(vbs: Vec<VarBind>) -> Result<Response, SnmpError> {
        Ok(Response {
            error_status: 0,
            error_index: 0,
            varbinds: vbs,
        })
    }

    fn run(script: Vec<Result<Response, SnmpError>>) -> (Result<usize, SnmpError>, Walker, Walk) {
        let mut walker = Walker::new(10, 1000);
        let mut out = Walk::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt.block_on(walker.walk(
            &mut Scripted(script.into()),
            &"1.3.6.1.2".parse().unwrap(),
            &mut out,
        ));
        (r, walker, out)
    }

    #[test]
    fn stops_at_subtree_end() {
        let (r, _, out) = run(vec![resp(vec![
            vb("1.3.6.1.2.1", 1),
            vb("1.3.6.1.2.2", 2),
            vb("1.3.6.1.3.1", 3),
        ])]);
        assert_eq!(r.unwrap(), 2);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn non_increasing_is_an_error_and_keeps_rows() {
        let (r, _, out) = run(vec![resp(vec![vb("1.3.6.1.2.5", 1), vb("1.3.6.1.2.4", 2)])]);
        assert!(matches!(r, Err(SnmpError::NonIncreasing { .. })), "{r:?}");
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn empty_answer_is_undecodable() {
        let (r, _, _) = run(vec![resp(vec![vb("1.3.6.1.2.1", 1)]), resp(vec![])]);
        assert_eq!(
            r.unwrap_err(),
            SnmpError::Undecodable {
                after: Box::new("1.3.6.1.2.1".parse().unwrap())
            }
        );
    }

    #[test]
    fn too_big_halves_then_bulk_timeout_falls_back() {
        let too_big = Ok(Response {
            error_status: TOO_BIG,
            error_index: 0,
            varbinds: vec![],
        });
        let timeout = || Err(SnmpError::Timeout(std::time::Duration::from_secs(1)));
        // Silence on a GETBULK of 5, then on one of 1: bulk is broken here.
        let (r, w, _) = run(vec![
            too_big,
            timeout(),
            timeout(),
            resp(vec![vb("1.3.6.1.2.1", 1)]),
            resp(vec![vb("1.3.6.1.9", 1)]),
        ]);
        assert_eq!(r.unwrap(), 1);
        assert_eq!(w.mode(), "getnext");
        assert!(w.fallback.unwrap().contains("GETBULK"));
        // Silence on the first GETBULK only: a lost answer, and bulk goes on,
        // growing back from 1.
        let (r, w, out) = run(vec![
            timeout(),
            rows(1, 1),
            rows(2, 2),
            resp(vec![vb("1.3.6.1.2.4", 1), vb("1.3.6.1.9", 1)]),
        ]);
        assert_eq!((r.unwrap(), out.len()), (4, 4));
        assert_eq!((w.mode(), w.max_repetitions), ("getbulk", 4));
    }

    fn rows(from: u32, n: u32) -> Result<Response, SnmpError> {
        resp(
            (from..from + n)
                .map(|i| vb(&format!("1.3.6.1.2.{i}"), 1))
                .collect(),
        )
    }

    #[test]
    fn bulk_size_is_learned_from_too_big_and_grows_back_after_a_loss() {
        let too_big = || {
            Ok(Response {
                error_status: TOO_BIG,
                error_index: 0,
                varbinds: vec![],
            })
        };
        let timeout = || Err(SnmpError::Timeout(std::time::Duration::from_secs(1)));
        // Asked 10: tooBig; 5 fit (limit 7); grows to 7, which fits;
        // a timeout halves to 3 once; full answers grow it back to the limit.
        let (r, w, out) = run(vec![
            too_big(),
            rows(1, 5),
            rows(6, 7),
            timeout(),
            rows(13, 3),
            rows(16, 6),
            resp(vec![vb("1.3.6.1.2.22", 1), vb("1.3.6.1.3", 1)]),
        ]);
        assert_eq!(r.unwrap(), 22);
        assert_eq!(out.len(), 22);
        assert_eq!(w.max_repetitions, 7, "back at the learned limit, not 10");
        assert_eq!(w.mode(), "getbulk");
        // A second timeout in the same subtree is an error: a dead device
        // costs one more round of retries, not one per halving.
        let (r, _, out) = run(vec![rows(1, 10), timeout(), timeout()]);
        assert!(matches!(r, Err(SnmpError::Timeout(_))), "{r:?}");
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn a_size_unanswered_twice_becomes_the_limit() {
        let timeout = || Err(SnmpError::Timeout(std::time::Duration::from_secs(1)));
        let under = |tree: u32, from: u32, n: u32, end: bool| {
            let mut vbs: Vec<_> = (from..from + n)
                .map(|i| vb(&format!("1.3.6.1.{tree}.{i}"), 1))
                .collect();
            if end {
                vbs.push(vb("1.3.6.1.9", 1));
            }
            resp(vbs)
        };
        let mut walker = Walker::new(10, 1000);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let walk = |walker: &mut Walker, tree: u32, script| {
            rt.block_on(walker.walk(
                &mut Scripted(script),
                &format!("1.3.6.1.{tree}").parse().unwrap(),
                &mut Walk::new(),
            ))
        };
        // 10 unanswered once: halved, and back to 10 after a full answer.
        let first = vec![
            under(2, 1, 10, false),
            timeout(),
            under(2, 11, 5, false),
            under(2, 16, 1, true),
        ];
        assert_eq!(walk(&mut walker, 2, first.into()).unwrap(), 16);
        assert_eq!(walker.max_repetitions, 10);
        // Unanswered again in the next table: 7 is the most it asks from now on.
        let second = vec![
            timeout(),
            under(4, 1, 5, false),
            under(4, 6, 7, false),
            under(4, 13, 1, true),
        ];
        assert_eq!(walk(&mut walker, 4, second.into()).unwrap(), 13);
        assert_eq!(walker.max_repetitions, 7);
    }

    #[test]
    fn endless_walks_are_cut() {
        let mut walker = Walker::new(10, 3);
        let script: Vec<_> = (1..10)
            .map(|i| resp(vec![vb(&format!("1.3.6.1.2.{i}"), i)]))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(walker.walk(
            &mut Scripted(script.into()),
            &"1.3.6.1.2".parse().unwrap(),
            &mut Walk::new(),
        ));
        assert!(matches!(r, Err(SnmpError::TooManyRows { limit: 3, .. })));
    }
}
