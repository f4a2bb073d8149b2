//! Dynamic batching: requests from many callers for one model are gathered into one forward
//! pass on the model's worker thread.
//!
//! Policy: the worker takes the first waiting request and everything already queued behind
//! it. When the previous pass served several requests (callers are running concurrently), it
//! also waits up to `window` for more, so a burst lands in one pass; a lone caller never
//! waits. A pass holds at most `max_rows` rows unless one request alone is larger. Replies keep
//! each caller's order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use r1_core::ServiceError;

/// How a model's worker gathers requests into forward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// How long to wait for more requests once callers are known to be concurrent.
    pub window: Duration,
    /// Rows (texts or tensor rows) per forward pass.
    pub max_rows: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_millis(2),
            max_rows: 64,
        }
    }
}

/// What the worker did: passes run, rows computed, the most requests served by one pass.
#[derive(Debug, Default)]
pub struct BatchStats {
    /// Forward passes run.
    pub passes: AtomicU64,
    /// Rows computed, over all passes.
    pub rows: AtomicU64,
    /// Most requests one pass served.
    pub max_requests_per_pass: AtomicU64,
}

type Output = Result<Vec<Vec<f32>>, ServiceError>;

struct Job<R> {
    rows: Vec<R>,
    reply: oneshot::Sender<Output>,
}

/// A model's worker thread and its queue. Dropping the batcher stops the worker once the
/// queue is drained, which frees the model it owns.
pub struct Batcher<R> {
    queue: mpsc::Sender<Job<R>>,
    stats: Arc<BatchStats>,
}

impl<R: Send + 'static> Batcher<R> {
    /// Starts the worker; `forward` maps a batch of rows to one output row each.
    pub fn spawn<F>(name: &str, config: BatchConfig, forward: F) -> std::io::Result<Self>
    where
        F: FnMut(Vec<R>) -> Result<Vec<Vec<f32>>, String> + Send + 'static,
    {
        let (queue, jobs) = mpsc::channel();
        let stats = Arc::new(BatchStats::default());
        let worker_stats = stats.clone();
        std::thread::Builder::new()
            .name(format!("infer-{name}"))
            .spawn(move || work(jobs, config, forward, &worker_stats))?;
        Ok(Self { queue, stats })
    }

    /// Queues `rows` and waits for their outputs, in order.
    pub async fn submit(&self, rows: Vec<R>) -> Output {
        let (reply, answer) = oneshot::channel();
        let stopped = || ServiceError::Unavailable("the model's worker has stopped".into());
        self.queue
            .send(Job { rows, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The worker's counters.
    pub fn stats(&self) -> &BatchStats {
        &self.stats
    }
}

fn work<R, F>(jobs: mpsc::Receiver<Job<R>>, config: BatchConfig, mut forward: F, stats: &BatchStats)
where
    F: FnMut(Vec<R>) -> Result<Vec<Vec<f32>>, String>,
{
    let mut concurrent = false;
    while let Ok(first) = jobs.recv() {
        let mut rows = first.rows.len();
        let mut batch = vec![first];
        while rows < config.max_rows {
            match jobs.try_recv() {
                Ok(job) => {
                    rows += job.rows.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        if concurrent {
            let deadline = Instant::now() + config.window;
            while rows < config.max_rows {
                let left = deadline.saturating_duration_since(Instant::now());
                match jobs.recv_timeout(left) {
                    Ok(job) => {
                        rows += job.rows.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
        }
        concurrent = batch.len() > 1;
        run_pass(batch, rows, &mut forward, stats);
    }
}

fn run_pass<R, F>(batch: Vec<Job<R>>, rows: usize, forward: &mut F, stats: &BatchStats)
where
    F: FnMut(Vec<R>) -> Result<Vec<Vec<f32>>, String>,
{
    let mut inputs = Vec::with_capacity(rows);
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        replies.push((job.rows.len(), job.reply));
        inputs.extend(job.rows);
    }
    stats.passes.fetch_add(1, Ordering::Relaxed);
    stats.rows.fetch_add(rows as u64, Ordering::Relaxed);
    stats
        .max_requests_per_pass
        .fetch_max(replies.len() as u64, Ordering::Relaxed);
    // A panic inside the model must fail this pass, not kill the worker for every caller.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| forward(inputs)))
        .unwrap_or_else(|_| Err("the forward pass panicked".into()));
    match result {
        Ok(outputs) if outputs.len() == rows => {
            let mut outputs = outputs.into_iter();
            for (count, reply) in replies {
                let _ = reply.send(Ok(outputs.by_ref().take(count).collect()));
            }
        }
        Ok(outputs) => {
            let error = format!("the model returned {} rows for {rows}", outputs.len());
            for (_, reply) in replies {
                let _ = reply.send(Err(ServiceError::Unavailable(error.clone())));
            }
        }
        Err(error) => {
            for (_, reply) in replies {
                let _ = reply.send(Err(ServiceError::Unavailable(error.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doubler(config: BatchConfig) -> Batcher<f32> {
        Batcher::spawn("test", config, |rows: Vec<f32>| {
            // Slow enough that concurrent callers pile up behind the first pass.
            std::thread::sleep(Duration::from_millis(20));
            Ok(rows.into_iter().map(|x| vec![x * 2.0]).collect())
        })
        .expect("spawn")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_passes_and_keep_their_order() {
        let batcher = Arc::new(doubler(BatchConfig::default()));
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let batcher = batcher.clone();
                tokio::spawn(async move {
                    let rows = vec![i as f32, i as f32 + 0.5];
                    (i, batcher.submit(rows).await)
                })
            })
            .collect();
        for task in tasks {
            let (i, out) = task.await.expect("task");
            let out = out.expect("output");
            assert_eq!(out, vec![vec![i as f32 * 2.0], vec![i as f32 * 2.0 + 1.0]]);
        }
        let stats = batcher.stats();
        assert_eq!(stats.rows.load(Ordering::Relaxed), 32);
        assert!(
            stats.passes.load(Ordering::Relaxed) < 16,
            "no batching happened"
        );
        assert!(stats.max_requests_per_pass.load(Ordering::Relaxed) > 1);
    }

    #[tokio::test]
    async fn a_failing_or_panicking_pass_fails_its_callers_and_the_worker_survives() {
        let mut calls = 0;
        let batcher = Batcher::spawn("flaky", BatchConfig::default(), move |rows: Vec<u8>| {
            calls += 1;
            match calls {
                1 => Err("boom".into()),
                2 => panic!("model bug"),
                3 => Ok(vec![]),
                _ => Ok(rows.into_iter().map(|r| vec![f32::from(r)]).collect()),
            }
        })
        .expect("spawn");
        let err = batcher.submit(vec![1]).await.expect_err("fails");
        assert_eq!(err, ServiceError::Unavailable("boom".into()));
        let err = batcher.submit(vec![1]).await.expect_err("panics");
        assert!(err.to_string().contains("panicked"), "{err}");
        let err = batcher.submit(vec![1]).await.expect_err("short");
        assert!(err.to_string().contains("0 rows for 1"), "{err}");
        assert_eq!(batcher.submit(vec![7]).await, Ok(vec![vec![7.0]]));
    }
}
