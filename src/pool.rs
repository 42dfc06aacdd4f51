//! Bounded concurrency, the one way work is spread: [`map`] for blocking
//! work (reading and comparing files) on a fixed set of scoped threads, and
//! [`run_bounded`] for network work (devices, destinations) as tasks on the
//! tokio runtime with at most so many in flight.

use std::future::Future;
use std::sync::Arc;
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

/// Runs `task` on every item, at most `limit` at a time; results in the
/// order of `items`. A panicking task is a bug and panics here too.
pub(crate) async fn run_bounded<T, F, Fut, R>(items: Vec<T>, limit: usize, task: F) -> Vec<R>
where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let permits = permits.clone();
        let work = task(item);
        tasks.spawn(async move {
            // The semaphore is never closed, so a permit always comes.
            let _permit = permits.acquire_owned().await.ok();
            (i, work.await)
        });
    }
    let mut out = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => out.push(r),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
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
}
