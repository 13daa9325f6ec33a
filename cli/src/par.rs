//! Threads lent to the core's dense kernels ([`infoplane_core::Parallel`]).

use infoplane_core::Parallel;
use std::sync::Mutex;

/// Runs the kernels' jobs on up to `N` scoped threads, the calling thread among them; each
/// job writes its own part of the output, so the bytes are those of one thread.
#[derive(Debug, Clone, Copy)]
pub struct ScopedThreads(pub usize);

impl Parallel for ScopedThreads {
    fn width(&self) -> usize {
        self.0
    }

    fn run(&self, jobs: &mut [&mut (dyn FnMut() + Send)]) {
        let helpers = jobs.len().min(self.0).saturating_sub(1);
        let queue = Mutex::new(jobs.iter_mut().collect::<Vec<_>>());
        let work = || {
            while let Some(job) = queue.lock().ok().and_then(|mut q| q.pop()) {
                job();
            }
        };
        std::thread::scope(|scope| {
            for _ in 0..helpers {
                // A thread that cannot start leaves its jobs to the others: the same bytes.
                let _ = std::thread::Builder::new().spawn_scoped(scope, work);
            }
            work();
        });
    }
}
