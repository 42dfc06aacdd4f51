//! Fewer devices in flight when timeouts surge across the fleet at once.
//!
//! One dead device times out alone; when many devices time out together, the
//! path (a congested link, a firewall's connection table) or the collector
//! itself is overloaded, and more requests in flight only lose more. Each
//! finished device says how many of its requests went unanswered; when more
//! than a fifth of the requests of the devices finished since the last
//! change did (judged once as many have finished as are in flight, at most
//! 50), the number in flight is halved, never below 4; it grows back by one
//! per round of devices finished cleanly, up to `PARALLEL_JOBS`. Requests,
//! not devices: a dead device asks twice and finishes late, so dead devices
//! started together, or left among the few finishing once the window is cut,
//! would make a share of devices look like a surge; their requests are few
//! against those of the devices that answer. Devices that timed out
//! in a pass whose window was cut are collected again after it with a
//! quarter as many in flight, held there (a set of devices that all timed
//! out once says nothing about the path), so that a surge costs time rather
//! than failed devices; again while such a pass brings back at least a
//! quarter of its devices, a few times at most.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::pool::Window;

/// Devices looked back on.
const RECENT: usize = 50;
/// The share of them with timeouts that counts as a surge.
const SURGE: f64 = 0.2;
/// Never fewer in flight than this.
const FLOOR: usize = 4;

pub(crate) struct Congestion {
    window: Arc<Window>,
    most: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Requests unanswered and sent, of each device finished lately.
    recent: VecDeque<(u64, u64)>,
    since_cut: usize,
    clean: usize,
    cuts: usize,
    /// Collecting again: the window stays as [`Congestion::calm`] set it.
    held: bool,
}

impl Congestion {
    pub(crate) fn new(most: usize) -> Congestion {
        Congestion {
            window: Window::new(most),
            most: most.max(1),
            state: Mutex::new(State {
                since_cut: RECENT,
                ..State::default()
            }),
        }
    }

    pub(crate) fn window(&self) -> &Arc<Window> {
        &self.window
    }

    /// Whether the window has been cut since the start, or the last [`Self::calm`].
    pub(crate) fn surged(&self) -> bool {
        self.state().cuts > 0
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One device finished: `congested`, timeouts marked it; `lost` of the
    /// `asked` requests it sent went unanswered.
    pub(crate) fn finished(&self, congested: bool, lost: u64, asked: u64) {
        let mut s = self.state();
        if s.held {
            return;
        }
        s.recent.push_back((lost, asked));
        if s.recent.len() > RECENT {
            s.recent.pop_front();
        }
        s.since_cut += 1;
        let (lost, asked) = s
            .recent
            .iter()
            .fold((0, 0), |(l, a), (dl, da)| (l + dl, a + da));
        let hit = s.recent.iter().filter(|(l, _)| *l > 0).count();
        let seen = s.recent.len();
        let limit = self.window.limit();
        // A round: as many finished as may be in flight.
        let round = limit.clamp(FLOOR, RECENT);
        if seen >= round && lost as f64 > SURGE * asked as f64 {
            let cut = (limit / 2).max(FLOOR.min(self.most));
            if cut < limit {
                self.window.set_limit(cut);
                // Judge the new window by what finishes under it.
                s.recent.clear();
                s.since_cut = 0;
                s.cuts += 1;
                tracing::warn!(
                    "Timeouts on {hit} of the last {seen} devices at once ({lost} of their {asked} requests unanswered): {cut} devices in flight now, from {limit}."
                );
            }
        } else if !congested && limit < self.most && s.since_cut >= round {
            s.clean += 1;
            if s.clean >= round {
                s.clean = 0;
                self.window.set_limit(limit + 1);
            }
        }
    }

    /// The window for collecting again what timed out in a surge, held
    /// there from now on.
    pub(crate) fn calm(&self) {
        let limit = self.window.limit();
        self.window.set_limit((limit / 4).max(FLOOR.min(self.most)));
        let mut s = self.state();
        s.recent.clear();
        s.since_cut = 0;
        s.clean = 0;
        s.cuts = 0;
        s.held = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device of 20 requests: all answered, or half of them lost.
    fn device(c: &Congestion, congested: bool) {
        c.finished(congested, if congested { 10 } else { 0 }, 20);
    }

    /// Devices finished, all alike, until the window moves: how many, and to what.
    fn until_moved(c: &Congestion, congested: bool) -> (usize, usize) {
        let before = c.window().limit();
        for n in 1..=1000 {
            device(c, congested);
            if c.window().limit() != before {
                return (n, c.window().limit());
            }
        }
        (usize::MAX, before)
    }

    #[test]
    fn a_surge_halves_the_window_and_clean_devices_grow_it_back() {
        let c = Congestion::new(100);
        // One dead device in ten is no surge, nor are dead devices finishing
        // together: two requests each, against those of the devices answering.
        for i in 0..200 {
            c.finished(
                i % 10 == 0,
                if i % 10 == 0 { 2 } else { 0 },
                2.max(30 * u64::from(i % 10 != 0)),
            );
        }
        for i in 0..50 {
            c.finished(
                i < 30,
                if i < 30 { 2 } else { 0 },
                if i < 30 { 2 } else { 30 },
            );
        }
        assert_eq!(c.window().limit(), 100);
        assert!(!c.surged());
        // Half the requests of every device lost: a cut once their requests
        // outweigh those of the clean devices still among the last 50, then
        // one per window's worth of devices finished under the new window.
        let (n, limit) = until_moved(&c, true);
        assert!(n <= 20 && limit == 50, "{n} {limit}");
        assert!(c.surged());
        assert_eq!(until_moved(&c, true), (50, 25));
        assert_eq!(until_moved(&c, true), (25, 12));
        assert_eq!(until_moved(&c, true), (12, 6));
        assert_eq!(until_moved(&c, true), (6, 4));
        assert_eq!(until_moved(&c, true).1, 4, "never below the floor");
        // Clean again: one more in flight per round of devices, once the
        // surge has left the last 50 (30 clean ones bring the requests lost
        // down to a fifth, then a round).
        assert_eq!(until_moved(&c, false), (33, 5));
        assert_eq!(until_moved(&c, false), (5, 6));
        assert_eq!(until_moved(&c, false), (6, 7));
        for _ in 0..20_000 {
            device(&c, false);
        }
        assert_eq!(c.window().limit(), 100);
        // Collecting again: a quarter, held whatever the devices do.
        c.calm();
        assert_eq!(c.window().limit(), 25);
        assert!(!c.surged());
        for _ in 0..500 {
            device(&c, true);
        }
        assert_eq!(c.window().limit(), 25);
    }
}
