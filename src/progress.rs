//! How a long run tells its caller where it stands, without touching the
//! terminal itself: the command line draws a bar, tests and benchmarks draw
//! nothing.

pub trait Progress: Send + Sync {
    /// The run has `total` steps (devices, snapshots).
    fn start(&self, total: u64);
    /// One more step is done.
    fn step(&self);
    fn finish(&self);
}

/// Reports nowhere.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: u64) {}
    fn step(&self) {}
    fn finish(&self) {}
}
