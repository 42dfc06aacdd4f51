//! Bounded concurrency, the one way work is spread: [`map`] for blocking
//! work (reading and comparing files) on a fixed set of scoped threads, and
//! [`run_bounded`] for network work (devices, destinations) as tasks on the
//! tokio runtime with at most so many in flight, a limit ([`Window`]) that
//! may move while the work runs.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Applies `f` to every item on at most `workers` threads; results come back
/// in the order of `items`. A panic in `f` is a bug and propagates.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = workers.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let mut gathered: Vec<(usize, R)> = std::thread::scope(|scope| {
        // Every worker is spawned before any is joined.
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    gathered.sort_by_key(|(i, _)| *i);
    gathered.into_iter().map(|(_, r)| r).collect()
}

/// How much work may be in flight; the limit may be moved at any time.
pub(crate) struct Window {
    gate: Mutex<Gate>,
    /// One wake-up per slot freed or added.
    freed: Notify,
}

struct Gate {
    in_flight: usize,
    limit: usize,
}

/// A place in a [`Window`], given back when dropped.
pub(crate) struct Slot(Arc<Window>);

impl Window {
    pub(crate) fn new(limit: usize) -> Arc<Window> {
        Arc::new(Window {
            gate: Mutex::new(Gate {
                in_flight: 0,
                limit: limit.max(1),
            }),
            freed: Notify::new(),
        })
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn limit(&self) -> usize {
        self.gate().limit
    }

    /// Moves the limit (at least 1); work in flight above it finishes, and
    /// nothing more enters until it is below.
    pub(crate) fn set_limit(&self, limit: usize) {
        let added = {
            let mut gate = self.gate();
            let old = std::mem::replace(&mut gate.limit, limit.max(1));
            gate.limit.saturating_sub(old)
        };
        for _ in 0..added {
            self.freed.notify_one();
        }
    }

    pub(crate) async fn enter(self: &Arc<Self>) -> Slot {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a slot freed in between wakes us.
            freed.as_mut().enable();
            {
                let mut gate = self.gate();
                if gate.in_flight < gate.limit {
                    gate.in_flight += 1;
                    return Slot(self.clone());
                }
            }
            freed.await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.gate().in_flight -= 1;
        self.0.freed.notify_one();
    }
}

/// Runs `task` on every item, at most `limit` at a time; results in the
/// order of `items`. A panicking task is a bug and panics here too.
pub(crate) async fn run_bounded<T, F, Fut, R>(items: Vec<T>, limit: usize, task: F) -> Vec<R>
where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    run_windowed(items, &Window::new(limit), task).await
}

/// [`run_bounded`] within a window whose limit may move while it runs.
pub(crate) async fn run_windowed<T, F, Fut, R>(
    items: Vec<T>,
    window: &Arc<Window>,
    task: F,
) -> Vec<R>
where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let mut out = Vec::with_capacity(items.len());
    let reap = |joined: Result<(usize, R), tokio::task::JoinError>, out: &mut Vec<(usize, R)>| {
        match joined {
            Ok(r) => out.push(r),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        // A task is made only once it has its place: memory follows what is
        // in flight, not the number of items (a device's task is kilobytes).
        let slot = window.enter().await;
        let work = task(item);
        tasks.spawn(async move {
            let _slot = slot;
            (i, work.await)
        });
        while let Some(joined) = tasks.try_join_next() {
            reap(joined, &mut out);
        }
    }
    while let Some(joined) = tasks.join_next().await {
        reap(joined, &mut out);
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Worker threads for CPU-bound work on this machine.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_and_bounds_threads() {
        let items: Vec<u32> = (0..100).collect();
        let out = super::map(&items, 3, |i| i * 2);
        assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::map(&Vec::<u32>::new(), 4, |i| *i).is_empty());
    }

    /// Work is made only once it has its place: what is held follows the
    /// window, not the number of items.
    #[test]
    fn work_is_made_when_it_has_a_place() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (alive, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let out = rt.block_on(super::run_bounded((0..200).collect(), 5, |i: usize| {
            let n = alive.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            let alive = alive.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                alive.fetch_sub(1, Ordering::SeqCst);
                i
            }
        }));
        assert_eq!(out, (0..200).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 5, "{peak:?} made at once");
    }

    #[test]
    fn a_window_holds_work_to_its_limit_as_it_moves() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Arc, OnceLock};
        use std::time::{Duration, Instant};
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let window = super::Window::new(8);
        let now = Arc::new(AtomicUsize::new(0));
        let (peak, late_peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let cut: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
        let out = rt.block_on(super::run_windowed(
            (0..300).collect(),
            &window,
            |i: usize| {
                let (now, peak, late_peak, cut, window) = (
                    now.clone(),
                    peak.clone(),
                    late_peak.clone(),
                    cut.clone(),
                    window.clone(),
                );
                async move {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    // What was in flight when the limit dropped is done 20 ms later.
                    if cut
                        .get()
                        .is_some_and(|t| t.elapsed() > Duration::from_millis(20))
                    {
                        late_peak.fetch_max(n, Ordering::SeqCst);
                    }
                    if i == 100 {
                        window.set_limit(2);
                        let _ = cut.set(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    i
                }
            },
        ));
        assert_eq!(out, (0..300).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 8);
        let late = late_peak.load(Ordering::SeqCst);
        assert!((1..=2).contains(&late), "{late} in flight after the cut");
        assert_eq!(window.limit(), 2);
    }
}
