//! `auditrail bench`: ingest throughput and query latency at a chosen size. Figures are printed
//! next to an unfiltered first page measured in the same run, so ratios compare across machines.

use std::time::{Duration, Instant};

use anyhow::Context;
use auditrail_model::{Cursor, Filter, PageRequest, ReadScope, TimeBound};
use auditrail_storage::Store;
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::demo::DemoGenerator;

pub struct BenchOptions {
    pub events: usize,
    pub database: Option<String>,
    pub samples: usize,
    pub batch: usize,
}

pub async fn run(opts: BenchOptions) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let url = match &opts.database {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", scratch.path().join("bench.db").display()),
    };
    let store = Store::open(&url).await.context("opening the benchmark database")?;
    let now = Utc::now();
    let mut generator = DemoGenerator::new(StdRng::seed_from_u64(42), now, opts.events);

    println!("database: {}", url.split(':').next().unwrap_or("?"));
    println!("ingesting {} events in batches of {} …", opts.events, opts.batch);
    let mut stored = 0;
    let mut busy = Duration::ZERO;
    while stored < opts.events {
        let batch = generator.events(opts.batch.min(opts.events - stored));
        let started = Instant::now();
        store.insert_events(&batch).await?;
        busy += started.elapsed();
        stored += batch.len();
    }
    println!(
        "ingest: {:.0} events/s ({} events in {:.1} s of insert time)",
        stored as f64 / busy.as_secs_f64(),
        stored,
        busy.as_secs_f64()
    );
    store.optimize().await?;

    let deep_cursor = deep_cursor(&store, now).await?;
    let cases: [(&str, &str, Option<Cursor>); 8] = [
        ("first page, no filter (baseline)", "", None),
        ("first page, project=acme-shop", "project=acme-shop", None),
        ("first page, module=Login&result=failure", "module=Login&result=failure", None),
        ("first page, range=today&category=access", "range=today&category=access", None),
        ("keyword, common word (q=campaign)", "q=campaign", None),
        ("keyword, rare word (q=quota)", "q=quota", None),
        ("keyword, prefix (q=camp*)", "q=camp*", None),
        ("deep page (cursor half-way down), no filter", "", deep_cursor),
    ];
    println!();
    println!("| query | rows | p50 ms | p99 ms | p50 / baseline |");
    println!("|---|---:|---:|---:|---:|");
    let mut baseline = None;
    for (name, query, cursor) in cases {
        let filter = Filter::from_query(query)?.0;
        let mut times = Vec::with_capacity(opts.samples);
        let mut rows = 0;
        for _ in 0..opts.samples {
            let started = Instant::now();
            let page = store
                .list_events(
                    &filter,
                    &ReadScope::everything(),
                    PageRequest { cursor, limit: 50 },
                    now,
                )
                .await?;
            times.push(started.elapsed());
            rows = page.events.len();
        }
        times.sort();
        let p50 = times[times.len() / 2];
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        let base = *baseline.get_or_insert(p50);
        println!(
            "| {name} | {rows} | {:.2} | {:.2} | {:.1}× |",
            ms(p50),
            ms(p99),
            p50.as_secs_f64() / base.as_secs_f64()
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A cursor about half-way down: the events span 30 days, so the first one older than 15 days.
async fn deep_cursor(store: &Store, now: DateTime<Utc>) -> anyhow::Result<Option<Cursor>> {
    let older = Filter {
        to: Some(TimeBound::Instant(now - chrono::Duration::days(15))),
        ..Filter::default()
    };
    let page = store
        .list_events(&older, &ReadScope::everything(), PageRequest { cursor: None, limit: 1 }, now)
        .await?;
    Ok(page.events.first().and(page.next_cursor))
}
