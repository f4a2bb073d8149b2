//! NATS peer for `make bench-remote`, shaped like R1's side: request/reply of 64-byte
//! messages between two clients through nats-server (1 and 50 in flight), and publish/subscribe
//! fan-out to S subscribers on their own connections.
//!
//! Usage: nats-bench URL request N INFLIGHT    → `requests=N secs=T p50_us=A p99_us=B`
//!        nats-bench URL fanout N SUBSCRIBERS  → `published=N delivered=D secs=T`
//!
//! Times are from the first send to the last reply (request) or, per subscriber, from its
//! first to its last message (fan-out, the span summed as R1's side does: the longest span).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        bail!("usage: nats-bench URL request N INFLIGHT | nats-bench URL fanout N SUBSCRIBERS");
    }
    let url = &args[1];
    let n: usize = args[3].parse().context("N")?;
    let k: usize = args[4].parse().context("INFLIGHT or SUBSCRIBERS")?;
    match args[2].as_str() {
        "request" => request(url, n, k.max(1)).await,
        "fanout" => fanout(url, n, k.max(1)).await,
        other => bail!("unknown mode {other:?}"),
    }
}

async fn request(url: &str, n: usize, inflight: usize) -> Result<()> {
    let responder = async_nats::connect(url).await?;
    let mut service = responder.subscribe("bench.echo").await?;
    let answer = responder.clone();
    tokio::spawn(async move {
        while let Some(msg) = service.next().await {
            if let Some(reply) = msg.reply {
                let _ = answer.publish(reply, msg.payload).await;
            }
        }
    });
    responder.flush().await?;
    let requester = async_nats::connect(url).await?;
    let payload = Bytes::from(vec![7u8; 64]);
    // Warm-up.
    for _ in 0..200 {
        requester.request("bench.echo", payload.clone()).await?;
    }
    let start = Instant::now();
    let per_task = n / inflight;
    let mut tasks = Vec::new();
    for _ in 0..inflight {
        let client = requester.clone();
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                let reply = client.request("bench.echo", payload.clone()).await?;
                samples.push(t.elapsed());
                anyhow::ensure!(reply.payload.len() == 64, "short reply");
            }
            anyhow::Ok(samples)
        }));
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(n);
    for task in tasks {
        samples.extend(task.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    samples.sort_unstable();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "requests={} secs={secs:.4} p50_us={:.1} p99_us={:.1}",
        samples.len(),
        pct(50).as_secs_f64() * 1e6,
        pct(99).as_secs_f64() * 1e6
    );
    Ok(())
}

async fn fanout(url: &str, n: usize, subscribers: usize) -> Result<()> {
    let mut counters = Vec::new();
    for _ in 0..subscribers {
        let client = async_nats::connect(url).await?;
        let mut sub = client.subscribe("bench.fanout").await?;
        client.flush().await?;
        counters.push(tokio::spawn(async move {
            let mut count = 0usize;
            let mut first = None;
            let mut last = Instant::now();
            // Stop once every message arrived, or when none came for a second (drops).
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(1), sub.next()).await {
                let now = Instant::now();
                first.get_or_insert(now);
                last = now;
                count += 1;
                if count == n {
                    break;
                }
            }
            let span = first.map(|f| last.duration_since(f)).unwrap_or_default();
            (client, count, span)
        }));
    }
    let publisher = async_nats::connect(url).await?;
    let payload = Bytes::from(vec![7u8; 64]);
    for _ in 0..n {
        publisher.publish("bench.fanout", payload.clone()).await?;
    }
    publisher.flush().await?;
    let (mut delivered, mut span) = (0usize, Duration::ZERO);
    for c in counters {
        let (_client, count, s) = c.await?;
        delivered += count;
        span = span.max(s);
    }
    println!(
        "published={n} delivered={delivered} secs={:.4}",
        span.as_secs_f64()
    );
    Ok(())
}
