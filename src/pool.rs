//! Bounded concurrency for blocking work (reading and comparing files): a
//! fixed set of scoped threads takes items in order from a shared counter.

use std::sync::atomic::{AtomicUsize, Ordering};

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
}
