//! Counts and histograms. Where a filter narrows only by what an hourly rollup is keyed on
//! (project, category, module, action, result, time), whole hours are added up from the rollup,
//! kept by ingest, and only the part hours at the range's ends are counted from events: exact at
//! any size. Any other filter (a keyword, an actor …) counts its matches one by one, newest
//! first, up to [`COUNT_MAX`] or for [`COUNT_TIME`], and past that answers
//! "at least" for the time those newest matches span.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use auditrail_model::{
    Filter, Histogram, HistogramBucket, Narrowed, NewEvent, ReadScope, TimeWindow, limits,
};
use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{StorageError, Store, sort_key};

/// The shortest range answered from the rollups, in hourly bars at least; a shorter one is
/// counted from its events, in finer bars.
const HOURLY_SPAN_MIN: Duration = Duration::hours(12);

/// Matches counted per query, newest first; tests page through a few at a time.
const COUNT_PAGE: usize = if cfg!(feature = "testing") { 16 } else { 5_000 };

/// Matches counted one by one at most; tests reach the cut with a few hundred events.
const COUNT_MAX: u64 = if cfg!(feature = "testing") { 200 } else { limits::HISTOGRAM_COUNT_MAX };

/// Counting matches one by one stops after this long, between pages, whatever the count: a
/// filter the indexes serve badly answers "at least" in bounded time instead of reading on.
/// Tests, which assert exact counts on a machine of any speed, wait longer.
const COUNT_TIME: std::time::Duration =
    std::time::Duration::from_millis(if cfg!(feature = "testing") { 10_000 } else { 50 });

/// One hour of sort keys: a rollup's `hour` is a sort key divided by it.
pub(crate) const HOUR_KEYS: i64 = 3_600_000_000 * sort_key::SLOTS;

/// A table of events per hour by some of their columns, kept by ingest (migration 0013).
#[derive(Debug)]
pub(crate) struct Rollup {
    pub table: &'static str,
    /// Each a column of [`HourTally`]'s, and of `events`.
    pub columns: &'static [&'static str],
}

/// By project, category and result: few rows an hour.
const BROAD: Rollup = Rollup { table: "event_hours", columns: &["project", "category", "result"] };

/// Also by module and action.
const BY_ACTION: Rollup = Rollup {
    table: "event_action_hours",
    columns: &["project", "category", "module", "action", "result"],
};

pub(crate) const ROLLUPS: [&Rollup; 2] = [&BROAD, &BY_ACTION];

/// The smallest rollup that answers this filter: one keyed on everything it narrows by.
/// Every field is named, so a new filter field has to be decided on here.
pub(crate) fn rollup_for(narrowed: &Narrowed) -> Option<&'static Rollup> {
    let Filter {
        range: _,
        from: _,
        to: _,
        tz: _,
        project: _,
        category: _,
        result: _,
        view: _,
        leave_out_trail: _,
        module,
        action,
        actor,
        ip,
        target,
        trace_id,
        flagged,
        q: _,
        details,
    } = &narrowed.filter;
    let answerable = [actor, ip, target, trace_id].iter().all(|values| values.is_empty())
        && flagged.is_none()
        && details.is_empty()
        && narrowed.filter.search_terms().is_empty();
    match (answerable, module.is_empty() && action.is_empty()) {
        (false, _) => None,
        (true, true) => Some(&BROAD),
        (true, false) => Some(&BY_ACTION),
    }
}

/// Events per hour and [`BY_ACTION`]'s columns gathered over one ingest transaction, added to
/// every rollup once at its end.
#[derive(Default)]
pub(crate) struct HourTally(HashMap<(i64, [String; 5]), i64>);

impl HourTally {
    pub fn add(&mut self, e: &NewEvent, key: i64) {
        let values = [
            e.project().to_string(),
            e.category().to_string(),
            e.module().to_string(),
            e.action().to_string(),
            e.result().as_str().to_owned(),
        ];
        *self.0.entry((key.div_euclid(HOUR_KEYS), values)).or_default() += 1;
    }

    pub fn merge(&mut self, other: HourTally) {
        for (key, n) in other.0 {
            *self.0.entry(key).or_default() += n;
        }
    }

    /// The rows to add to `rollup`: counts summed over the columns it is not keyed on, in
    /// key order (so concurrent writers take row locks in the same order).
    pub fn rows(&self, rollup: &Rollup) -> Vec<(i64, Vec<&str>, i64)> {
        let picks: Vec<usize> = rollup
            .columns
            .iter()
            .map(|c| BY_ACTION.columns.iter().position(|all| all == c).expect("a tallied column"))
            .collect();
        let mut rows: BTreeMap<(i64, Vec<&str>), i64> = BTreeMap::new();
        for ((hour, values), n) in &self.0 {
            let picked = picks.iter().map(|i| values[*i].as_str()).collect();
            *rows.entry((*hour, picked)).or_default() += n;
        }
        rows.into_iter().map(|((hour, values), n)| (hour, values, n)).collect()
    }
}

/// The start of the hour `hour` (a rollup's `hour`).
pub(crate) fn hour_start(hour: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(hour.saturating_mul(HOUR_KEYS / sort_key::SLOTS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The microsecond a sort key belongs to.
pub(crate) fn key_time(key: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(key / sort_key::SLOTS).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// How far apart bars are: fixed seconds (aligned in UTC), or calendar days and months in the
/// filter's zone (a day bar runs from one local midnight to the next, 23 or 25 hours across a
/// DST change).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Seconds(i64),
    Days(u64),
    Months(u32),
}

const STEPS: [Step; 14] = [
    Step::Seconds(60),
    Step::Seconds(5 * 60),
    Step::Seconds(15 * 60),
    Step::Seconds(30 * 60),
    Step::Seconds(3600),
    Step::Seconds(3 * 3600),
    Step::Seconds(6 * 3600),
    Step::Seconds(12 * 3600),
    Step::Days(1),
    Step::Days(7),
    Step::Months(1),
    Step::Months(3),
    Step::Months(12),
    Step::Months(120),
];

impl Step {
    /// The finest step whose bars over `seconds` stay within the limit. Calendar steps are
    /// judged with a margin: months run shorter than their average.
    fn for_span(seconds: i64, hours_at_least: bool) -> Step {
        let bars = |length: i64| seconds / length.max(1);
        // Aligning the first and last bar to the step adds up to two, a bar for events
        // dated ahead one more.
        let most = limits::HISTOGRAM_BUCKETS_MAX as i64 - 3;
        let fits = |step: &&Step| match **step {
            Step::Seconds(s) => bars(s) <= most,
            Step::Days(d) => bars(d as i64 * 86_400) <= most,
            Step::Months(m) => bars(i64::from(m) * 2_629_746) <= most * 9 / 10,
        };
        let allowed =
            |step: &&Step| !hours_at_least || !matches!(step, Step::Seconds(s) if *s < 3600);
        *STEPS.iter().filter(allowed).find(fits).unwrap_or(&STEPS[STEPS.len() - 1])
    }
}

/// Bars tiling `[from, to)`: the first starts at `from`, the last ends at `to`, those between
/// on the step's boundaries.
pub(crate) struct Grid {
    edges: Vec<DateTime<Utc>>,
    /// `edges` as sort keys, to place a key.
    edge_keys: Vec<i64>,
}

impl Grid {
    /// `hours_at_least`: no bar finer than an hour, so whole hours can fill them.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, zone: Tz, hours_at_least: bool) -> Grid {
        let step = Step::for_span((to - from).num_seconds(), hours_at_least);
        let mut edges = vec![from];
        let mut boundary = first_boundary(from, step, zone);
        while boundary < to {
            if boundary > from {
                edges.push(boundary);
            }
            boundary = next_boundary(boundary, step, zone);
        }
        edges.push(to);
        let edge_keys = edges.iter().map(|t| sort_key::base(*t)).collect();
        Grid { edges, edge_keys }
    }

    /// Adds one bar from the current end to `end`.
    pub fn extend_to(&mut self, end: DateTime<Utc>) {
        self.edges.push(end);
        self.edge_keys.push(sort_key::base(end));
    }

    pub fn len(&self) -> usize {
        self.edges.len() - 1
    }

    /// The bar holding sort key `key`; keys outside the range go to the nearest bar.
    pub fn bar_of(&self, key: i64) -> usize {
        self.edge_keys.partition_point(|edge| *edge <= key).clamp(1, self.len()) - 1
    }

    /// The whole hours `[first, end)` of the range, when every boundary between bars falls on
    /// an hour (so each whole hour lies in one bar) and there is at least one.
    pub fn whole_hours(&self) -> Option<(i64, i64)> {
        let inner = &self.edge_keys[1..self.edge_keys.len() - 1];
        if inner.iter().any(|key| key % HOUR_KEYS != 0) {
            return None;
        }
        let start = self.edge_keys[0];
        let first = start.div_euclid(HOUR_KEYS) + i64::from(start.rem_euclid(HOUR_KEYS) != 0);
        let end = self.edge_keys[self.edge_keys.len() - 1].div_euclid(HOUR_KEYS);
        (first < end).then_some((first, end))
    }

    /// The parts of the range outside [`Grid::whole_hours`] `(first, end)`: each within one bar.
    pub fn part_hours(&self, (first, end): (i64, i64)) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let (from, to) = (self.edges[0], self.edges[self.edges.len() - 1]);
        let mut parts = Vec::new();
        if from < hour_start(first) {
            parts.push((from, hour_start(first)));
        }
        if hour_start(end) < to {
            parts.push((hour_start(end), to));
        }
        parts
    }

    /// The bars with `counts`. `complete_after`: counting stopped at this key, so only the
    /// bars wholly after it are known and kept.
    pub fn histogram(&self, counts: &[u64], total: u64, complete_after: Option<i64>) -> Histogram {
        let buckets = self
            .edges
            .windows(2)
            .zip(&self.edge_keys)
            .zip(counts)
            .filter(|((_, start), _)| complete_after.is_none_or(|oldest| **start > oldest))
            .map(|((edge, _), count)| HistogramBucket { from: edge[0], to: edge[1], count: *count })
            .collect();
        Histogram { total, exact: complete_after.is_none(), buckets }
    }
}

/// The step boundary at or before `t`.
fn first_boundary(t: DateTime<Utc>, step: Step, zone: Tz) -> DateTime<Utc> {
    let date = t.with_timezone(&zone).date_naive();
    match step {
        Step::Seconds(s) => {
            DateTime::from_timestamp(t.timestamp().div_euclid(s) * s, 0).unwrap_or(t)
        }
        Step::Days(7) => {
            let monday = date - Days::new(u64::from(date.weekday().num_days_from_monday()));
            local_midnight(monday, zone)
        }
        Step::Days(_) => local_midnight(date, zone),
        Step::Months(m) => {
            let index = date.year() * 12 + date.month0() as i32;
            let aligned = index - index.rem_euclid(m as i32);
            let first = NaiveDate::from_ymd_opt(
                aligned.div_euclid(12),
                aligned.rem_euclid(12) as u32 + 1,
                1,
            );
            first.map_or(t, |d| local_midnight(d, zone))
        }
    }
}

fn next_boundary(t: DateTime<Utc>, step: Step, zone: Tz) -> DateTime<Utc> {
    let date = t.with_timezone(&zone).date_naive();
    let next = match step {
        Step::Seconds(s) => return t + Duration::seconds(s),
        Step::Days(d) => date.checked_add_days(Days::new(d)),
        Step::Months(m) => date.checked_add_months(Months::new(m)),
    };
    next.map_or(DateTime::<Utc>::MAX_UTC, |d| local_midnight(d, zone))
}

/// The first instant of `date` in `zone`: midnight, or where a DST jump over midnight lands.
fn local_midnight(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    (0..24)
        .find_map(|hour| {
            let time = NaiveTime::from_hms_opt(hour, 0, 0)?;
            zone.from_local_datetime(&date.and_time(time)).earliest()
        })
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.with_timezone(&Utc))
}

impl Store {
    /// How many events `filter` matches within `scope`, in bars over its time range (or, open
    /// at either end, the matches' own span; `now` at the latest).
    #[tracing::instrument(skip_all)]
    pub async fn histogram(
        &self,
        filter: &Filter,
        scope: &ReadScope,
        now: DateTime<Utc>,
    ) -> Result<Histogram, StorageError> {
        scope.check(filter)?;
        let window = filter.time_window(now)?;
        // A bound beyond the years events can have (`to=9999-12-31`: "everything before")
        // leaves the range open at that end: no bars over centuries without events.
        let (earliest, end) = auditrail_model::timestamp_bounds();
        let window = TimeWindow {
            from: window.from.filter(|from| *from > earliest),
            to: window.to.filter(|to| *to < end),
        };
        let zone = filter.zone()?;
        let Some(narrowed) = scope.narrow(filter) else {
            return Ok(empty(window, zone));
        };
        if let Some(rollup) = rollup_for(&narrowed)
            && let Some(histogram) =
                self.histogram_from_hours(rollup, &narrowed, window, zone, now).await?
        {
            return Ok(histogram);
        }
        self.histogram_by_counting(&narrowed, window, zone, now).await
    }

    /// Whole hours from `rollup`, part hours counted from events; `None` when the bars do
    /// not fall on whole hours (day bars in a zone half an hour off UTC) or the range is
    /// shorter than [`HOURLY_SPAN_MIN`].
    async fn histogram_from_hours(
        &self,
        rollup: &Rollup,
        narrowed: &Narrowed,
        window: TimeWindow,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<Option<Histogram>, StorageError> {
        let span = if window.from.is_none() || window.to.is_none() {
            match on_backend!(self, s => s.hour_span(rollup, narrowed).await)? {
                Some(span) => Some(span),
                None => return Ok(Some(empty(window, zone))),
            }
        } else {
            None
        };
        let from = window.from.or(span.map(|(first, _)| hour_start(first)));
        let (to, beyond) = match (window.to, span, from) {
            (Some(to), _, _) => (to, None),
            (None, Some((_, last)), Some(from)) => {
                let now_end = hour_start(sort_key::base(now).div_euclid(HOUR_KEYS) + 1);
                open_end(from, now_end, hour_start(last + 1))
            }
            _ => return Ok(None),
        };
        let Some(from) = from else { return Ok(None) };
        if from >= to {
            return Ok(Some(empty(window, zone)));
        }
        if to - from < HOURLY_SPAN_MIN {
            return Ok(None);
        }
        let mut grid = Grid::new(from, to, zone, true);
        if let Some(beyond) = beyond {
            grid.extend_to(beyond);
        }
        let Some(hours) = grid.whole_hours() else { return Ok(None) };
        let mut counts = vec![0; grid.len()];
        for (hour, n) in on_backend!(self, s => s.hour_counts(rollup, narrowed, hours).await)? {
            counts[grid.bar_of(hour * HOUR_KEYS)] += n;
        }
        for (from, to) in grid.part_hours(hours) {
            let part = TimeWindow { from: Some(from), to: Some(to) };
            let n = on_backend!(self, s => s.count_events(narrowed, part, None, u64::MAX).await)?;
            counts[grid.bar_of(sort_key::base(from))] += n;
        }
        let total = counts.iter().sum();
        Ok(Some(grid.histogram(&counts, total, None)))
    }

    /// The newest matches one by one, up to the cap.
    async fn histogram_by_counting(
        &self,
        narrowed: &Narrowed,
        window: TimeWindow,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<Histogram, StorageError> {
        let started = Instant::now();
        let mut keys: Vec<i64> = Vec::new();
        let mut cut_short = false;
        loop {
            let after = keys.last().copied();
            let page =
                on_backend!(self, s => s.matching_keys(narrowed, window, after, COUNT_PAGE).await)?;
            let last_page = page.len() < COUNT_PAGE;
            keys.extend(page);
            if last_page {
                break;
            }
            if keys.len() as u64 >= COUNT_MAX || started.elapsed() > COUNT_TIME {
                cut_short = true;
                break;
            }
        }
        let (Some(newest), Some(oldest)) = (keys.first(), keys.last()) else {
            return Ok(empty(window, zone));
        };
        let from = window.from.unwrap_or_else(|| key_time(*oldest));
        let (to, beyond) = match window.to {
            Some(to) => (to, None),
            None => open_end(from, now, key_time(*newest) + Duration::microseconds(1)),
        };
        let mut grid = Grid::new(from, to, zone, false);
        if let Some(beyond) = beyond {
            grid.extend_to(beyond);
        }
        let mut counts = vec![0; grid.len()];
        for key in &keys {
            counts[grid.bar_of(*key)] += 1;
        }
        let complete_after = cut_short.then_some(*oldest);
        Ok(grid.histogram(&counts, keys.len() as u64, complete_after))
    }
}

/// Where bars end over a range open at its end: at `now_end` (now, or the end of its hour),
/// unless matches lie beyond it (events may be dated ahead), which then get one bar of their
/// own up to `newest_end`, so "the last 7 days" keeps its day bars. A range starting later
/// than `now_end` ends at `newest_end`.
fn open_end(
    from: DateTime<Utc>,
    now_end: DateTime<Utc>,
    newest_end: DateTime<Utc>,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    if newest_end <= now_end {
        (now_end, None)
    } else if from >= now_end {
        (newest_end, None)
    } else {
        (now_end, Some(newest_end))
    }
}

/// No events: zero bars over the range when it is closed, none when it is open.
fn empty(window: TimeWindow, zone: Tz) -> Histogram {
    match (window.from, window.to) {
        (Some(from), Some(to)) if from < to => {
            let grid = Grid::new(from, to, zone, false);
            grid.histogram(&vec![0; grid.len()], 0, None)
        }
        _ => Histogram { total: 0, exact: true, buckets: Vec::new() },
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::{Grid, HOUR_KEYS};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn four_days_in_hours_tile_the_range_on_whole_hours() {
        let grid = Grid::new(
            at("2026-03-01T10:30:00Z"),
            at("2026-03-05T10:30:00Z"),
            chrono_tz::UTC,
            false,
        );
        assert_eq!(grid.len(), 97, "a part hour at each end, 95 whole ones between");
        assert_eq!(grid.edges[1], at("2026-03-01T11:00:00Z"));
        let (first, end) = grid.whole_hours().unwrap();
        assert_eq!(end - first, 95);
        assert_eq!(grid.part_hours((first, end)).len(), 2);
        assert_eq!(grid.bar_of(crate::sort_key::base(at("2026-03-01T11:59:59Z"))), 1);
        assert_eq!(grid.bar_of(first * HOUR_KEYS), 1);
    }

    #[test]
    fn bars_for_rollups_are_an_hour_at_least() {
        let (from, to) = (at("2026-03-01T00:00:00Z"), at("2026-03-02T00:00:00Z"));
        assert_eq!(Grid::new(from, to, chrono_tz::UTC, false).len(), 96);
        assert_eq!(Grid::new(from, to, chrono_tz::UTC, true).len(), 24);
    }

    #[test]
    fn day_bars_follow_local_midnights_across_a_dst_change() {
        let zone: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        // Berlin moved its clocks forward on 2026-03-29: that day has 23 hours.
        let grid = Grid::new(at("2026-03-01T00:00:00Z"), at("2026-05-15T00:00:00Z"), zone, false);
        let midnight = grid.edges.iter().position(|e| *e == at("2026-03-28T23:00:00Z")).unwrap();
        assert_eq!(grid.edges[midnight + 1], at("2026-03-29T22:00:00Z"));
        assert!(grid.whole_hours().is_some());
    }

    #[test]
    fn a_half_hour_zone_is_not_answered_by_whole_hours() {
        let zone: chrono_tz::Tz = "Asia/Kolkata".parse().unwrap();
        let grid = Grid::new(at("2026-03-01T00:00:00Z"), at("2026-06-01T00:00:00Z"), zone, false);
        assert_eq!(grid.edges[1], at("2026-03-01T18:30:00Z"), "day bars, from local midnight");
        assert!(grid.whole_hours().is_none());
    }

    #[test]
    fn counting_cut_short_keeps_only_the_bars_it_finished() {
        // Five hours in five-minute bars; counting stopped at a match at 02:30.
        let grid = Grid::new(
            at("2026-03-01T00:00:00Z"),
            at("2026-03-01T05:00:00Z"),
            chrono_tz::UTC,
            false,
        );
        assert_eq!(grid.len(), 60);
        let oldest_counted = crate::sort_key::base(at("2026-03-01T02:30:00Z"));
        let histogram = grid.histogram(&[1; 60], 20, Some(oldest_counted));
        assert!(!histogram.exact);
        assert_eq!(histogram.total, 20);
        assert_eq!(histogram.buckets.len(), 29);
        assert_eq!(histogram.buckets[0].from, at("2026-03-01T02:35:00Z"));
    }

    #[test]
    fn bars_stay_within_the_limit_at_every_span() {
        let from = at("1970-01-01T00:07:13Z");
        for k in 1..3000_i64 {
            let to = from + chrono::Duration::seconds(k * k * 41);
            let grid = Grid::new(from, to, chrono_tz::UTC, k % 2 == 0);
            let bars = grid.len();
            assert!(
                (1..=auditrail_model::limits::HISTOGRAM_BUCKETS_MAX).contains(&bars),
                "{k}: {bars}"
            );
        }
    }
}
