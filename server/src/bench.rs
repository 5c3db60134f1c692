//! `auditrail bench`: ingest throughput, query latency and export speed and memory at a chosen
//! size. Figures are printed next to a baseline measured in the same run (an unfiltered first
//! page; the database's own CSV dump), so ratios compare across machines.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
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
    pub clients: Vec<usize>,
    pub servers: Vec<usize>,
}

pub async fn run(opts: BenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        !opts.clients.is_empty() && !opts.clients.contains(&0),
        "--clients takes counts of one or more"
    );
    anyhow::ensure!(
        !opts.servers.is_empty() && !opts.servers.contains(&0),
        "--servers takes counts of one or more"
    );
    let scratch = tempfile::tempdir()?;
    let url = match &opts.database {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", scratch.path().join("bench.db").display()),
    };
    let store = Store::open(&url).await.context("opening the benchmark database")?;
    let mut servers = vec![store.clone()];
    for _ in 1..opts.servers.iter().copied().max().unwrap_or(1) {
        servers.push(Store::open(&url).await?);
    }
    let now = Utc::now();
    let mut generator = DemoGenerator::new(StdRng::seed_from_u64(42), now, opts.events);

    println!("database: {}", url.split(':').next().unwrap_or("?"));
    println!("| ingest ({} events per batch) | events | events/s |", opts.batch);
    println!("|---|---:|---:|");
    // (clients, servers); rounds take turns between them, so each meets every database size.
    let setups: Vec<(usize, usize)> = opts
        .clients
        .iter()
        .flat_map(|c| opts.servers.iter().filter(move |s| *s <= c).map(move |s| (*c, *s)))
        .collect();
    let mut by_setup = vec![(0usize, Duration::ZERO); setups.len()];
    let mut stored = 0;
    for turn in (0..setups.len()).cycle() {
        if stored == opts.events {
            break;
        }
        let round = (ROUND_BATCHES * opts.batch).min(opts.events - stored);
        let (clients, over) = setups[turn];
        let busy =
            ingest_round(&servers[..over], &mut generator, round, opts.batch, clients).await?;
        by_setup[turn].0 += round;
        by_setup[turn].1 += busy;
        stored += round;
    }
    for ((clients, over), (events, busy)) in setups.iter().zip(by_setup) {
        let rate = events as f64 / busy.as_secs_f64().max(f64::EPSILON);
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let servers = if opts.servers == [1] {
            String::new()
        } else {
            format!(", {over} server{}", plural(*over))
        };
        println!("| {clients} client{}{servers} | {events} | {rate:.0} |", plural(*clients));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        let baseline =
            Store::open(&format!("sqlite://{}", scratch.path().join("plain.db").display())).await?;
        let started = Instant::now();
        let copied = baseline.copy_plainly(path, opts.batch).await?.unwrap_or(0);
        let rate = copied as f64 / started.elapsed().as_secs_f64();
        // As large as the database itself: make room for the exports.
        drop(baseline);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(scratch.path().join(format!("plain.db{suffix}")));
        }
        println!(
            "| plain SQL copy of the same rows, same schema (baseline) | {copied} | {rate:.0} |"
        );
    }
    println!("peak RSS: {:.0} MB", memory_kb("/proc/self/status", "VmHWM:") as f64 / 1024.0);
    let bytes = store.size_bytes().await?;
    println!(
        "database size: {:.0} MB, {:.0} bytes per event",
        bytes as f64 / 1e6,
        bytes as f64 / stored.max(1) as f64
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
        let page = PageRequest { cursor, limit: 50 };
        let everything = ReadScope::everything();
        let (page, p50, p99) =
            timed(opts.samples, || store.list_events(&filter, &everything, page, now)).await?;
        let base = *baseline.get_or_insert(p50);
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.1}× |",
            page.events.len(),
            ms(p50),
            ms(p99),
            p50.as_secs_f64() / base.as_secs_f64()
        );
    }
    histograms(&store, now, opts.samples).await?;
    exports(&url, stored).await
}

/// Count and histogram per filter, next to an exact `COUNT(*)` of the same filter.
async fn histograms(store: &Store, now: DateTime<Utc>, samples: usize) -> anyhow::Result<()> {
    let cases = [
        "",
        "project=acme-shop",
        "range=today&category=access",
        "range=7d&result=failure",
        "module=Login&result=failure",
        "q=campaign",
        "q=quota",
    ];
    println!();
    println!(
        "| count + histogram | total | exact | bars | p50 ms | p99 ms | COUNT(*) p50 ms (baseline) | p50 / baseline |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    let everything = ReadScope::everything();
    for query in cases {
        let filter = Filter::from_query(query)?.0;
        let (histogram, p50, p99) =
            timed(samples, || store.histogram(&filter, &everything, now)).await?;
        let (_, base, _) =
            timed(samples, || store.count_events_as_of(&filter, &everything, now, u64::MAX))
                .await?;
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2}× |",
            if query.is_empty() { "no filter" } else { query },
            histogram.total,
            if histogram.exact { "exact" } else { "at least" },
            histogram.buckets.len(),
            ms(p50),
            ms(p99),
            ms(base),
            p50.as_secs_f64() / base.as_secs_f64()
        );
    }
    Ok(())
}

/// Runs `call` `samples` times: its last answer, and the p50 and p99 times.
async fn timed<T, E, F>(
    samples: usize,
    mut call: impl FnMut() -> F,
) -> anyhow::Result<(T, Duration, Duration)>
where
    F: std::future::Future<Output = Result<T, E>>,
    anyhow::Error: From<E>,
{
    let mut times = Vec::with_capacity(samples);
    let mut answer = None;
    for _ in 0..samples.max(1) {
        let started = Instant::now();
        answer = Some(call().await?);
        times.push(started.elapsed());
    }
    times.sort();
    let p50 = times[times.len() / 2];
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    Ok((answer.expect("at least one sample"), p50, p99))
}

/// Every event exported in each format by `auditrail export` as a separate process, timed with
/// its peak memory, next to the database's own command-line client writing the same rows as
/// CSV (`sqlite3 -csv`, `psql … COPY … CSV`) as the baseline.
async fn exports(url: &str, rows: usize) -> anyhow::Result<()> {
    let out = tempfile::tempdir()?;
    let me = std::env::current_exe()?;
    let mut runs: Vec<(String, std::process::Command)> = Vec::new();
    for format in ["csv", "jsonl", "xlsx"] {
        let mut command = std::process::Command::new(&me);
        command.args(["export", "--format", format, "--database", url]);
        runs.push((format!("auditrail export --format {format}"), command));
    }
    let columns = "id, occurred_at, received_at, project, category, module, action, result, \
        actor_id, actor_name, actor_email, actor_type, source_ip, user_agent, target_type, \
        target_id, target_name, description, error, trace_id, details";
    let select = format!("SELECT {columns} FROM events ORDER BY sort_key DESC");
    let baseline = match url.split_once("://") {
        Some(("sqlite", path)) => {
            let path = path.split('?').next().unwrap_or(path);
            let mut command = std::process::Command::new("sqlite3");
            command.args(["-csv", "-header", path, &select]);
            Some(("sqlite3 -csv (baseline)", command))
        }
        Some(("postgres" | "postgresql", _)) => {
            let mut command = std::process::Command::new("psql");
            command.args([url, "-q", "-c", &format!("COPY ({select}) TO STDOUT WITH CSV HEADER")]);
            Some(("psql COPY … CSV (baseline)", command))
        }
        _ => None,
    };
    println!();
    println!("exporting all {rows} events …");
    println!("| export | seconds | rows/s | MB written | peak RSS MB | time / baseline |");
    println!("|---|---:|---:|---:|---:|---:|");
    let base = match baseline {
        Some((name, command)) => {
            let run = measure(command, &out.path().join("baseline")).await?;
            run.print(name, rows, run.seconds);
            Some(run.seconds)
        }
        None => None,
    };
    for (i, (name, command)) in runs.into_iter().enumerate() {
        let run = measure(command, &out.path().join(format!("export-{i}"))).await?;
        run.print(&name, rows, base.unwrap_or(run.seconds));
    }
    Ok(())
}

/// One finished command: wall time, bytes it wrote, and the highest resident memory seen.
struct Run {
    seconds: f64,
    bytes: u64,
    peak_kb: u64,
}

impl Run {
    fn print(&self, name: &str, rows: usize, baseline: f64) {
        println!(
            "| {name} | {:.1} | {:.0} | {:.0} | {:.0} | {:.2}× |",
            self.seconds,
            rows as f64 / self.seconds,
            self.bytes as f64 / 1e6,
            self.peak_kb as f64 / 1024.0,
            self.seconds / baseline
        );
    }
}

/// Runs `command` with its output in `file`, reading its peak resident set (`VmHWM`, Linux)
/// every few milliseconds until it exits.
async fn measure(
    mut command: std::process::Command,
    file: &std::path::Path,
) -> anyhow::Result<Run> {
    let output = std::fs::File::create(file)?;
    command.stdout(output).stderr(std::process::Stdio::inherit());
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("starting {command:?}"))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak_kb = peak_kb.max(memory_kb(&status_file, "VmHWM:"));
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    anyhow::ensure!(status.success(), "{command:?} failed: {status}");
    let seconds = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(file)?.len();
    // Only the size matters, and at 10M events each file takes gigabytes of the disk.
    std::fs::remove_file(file)?;
    Ok(Run { seconds, bytes, peak_kb })
}

/// Batches generated ahead of each timed round: enough to keep every client busy, few enough
/// to keep memory flat at any size.
const ROUND_BATCHES: usize = 32;

/// One timed round: `events` generated first (not timed: generating is the clients' work, not
/// the server's), then stored in batches by `clients` tasks, each taking the next batch when
/// free. Returns the time spent storing.
async fn ingest_round(
    servers: &[Store],
    generator: &mut DemoGenerator,
    events: usize,
    batch: usize,
    clients: usize,
) -> anyhow::Result<Duration> {
    let mut batches = VecDeque::new();
    let mut left = events;
    while left > 0 {
        let take = batch.min(left);
        left -= take;
        batches.push_back(generator.events(take));
    }
    let batches = Arc::new(Mutex::new(batches));
    let started = Instant::now();
    let tasks = (0..clients).map(|client| {
        let (store, batches) = (servers[client % servers.len()].clone(), batches.clone());
        tokio::spawn(async move {
            loop {
                let next = batches.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                match next {
                    Some(events) => store.insert_events(events).await?,
                    None => return anyhow::Ok(()),
                };
            }
        })
    });
    for task in futures::future::join_all(tasks).await {
        task??;
    }
    Ok(started.elapsed())
}

/// A process's memory figure in kB from its `/proc/…/status` (`VmRSS:` now, `VmHWM:` the
/// peak); 0 where unreadable.
fn memory_kb(status_file: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(status_file).unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix(field));
    line.and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
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
