//! The one filter type. Its query-string form is shared by the REST API, the page URL and the
//! CLI: `range=1d&project=shop&project=blog&q=deleted`. Several values of one key are OR,
//! different keys are AND; empty values are ignored so plain HTML forms can submit everything.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Outcome, limits};

/// Time presets. Relative ones count back from now; calendar ones are computed in `tz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangePreset {
    Minutes5,
    Minutes15,
    Hours1,
    Hours2,
    Hours6,
    Days1,
    Days3,
    Days7,
    Days30,
    Today,
    Yesterday,
    DayBeforeYesterday,
    ThisWeek,
    LastWeek,
}

impl RangePreset {
    pub const ALL: [RangePreset; 14] = [
        RangePreset::Minutes5,
        RangePreset::Minutes15,
        RangePreset::Hours1,
        RangePreset::Hours2,
        RangePreset::Hours6,
        RangePreset::Days1,
        RangePreset::Days3,
        RangePreset::Days7,
        RangePreset::Days30,
        RangePreset::Today,
        RangePreset::Yesterday,
        RangePreset::DayBeforeYesterday,
        RangePreset::ThisWeek,
        RangePreset::LastWeek,
    ];

    /// The query-string spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RangePreset::Minutes5 => "5m",
            RangePreset::Minutes15 => "15m",
            RangePreset::Hours1 => "1h",
            RangePreset::Hours2 => "2h",
            RangePreset::Hours6 => "6h",
            RangePreset::Days1 => "1d",
            RangePreset::Days3 => "3d",
            RangePreset::Days7 => "7d",
            RangePreset::Days30 => "30d",
            RangePreset::Today => "today",
            RangePreset::Yesterday => "yesterday",
            RangePreset::DayBeforeYesterday => "day_before_yesterday",
            RangePreset::ThisWeek => "this_week",
            RangePreset::LastWeek => "last_week",
        }
    }

    /// What a person reads in the dropdown.
    pub fn label(self) -> &'static str {
        match self {
            RangePreset::Minutes5 => "Last 5 minutes",
            RangePreset::Minutes15 => "Last 15 minutes",
            RangePreset::Hours1 => "Last hour",
            RangePreset::Hours2 => "Last 2 hours",
            RangePreset::Hours6 => "Last 6 hours",
            RangePreset::Days1 => "Last 24 hours",
            RangePreset::Days3 => "Last 3 days",
            RangePreset::Days7 => "Last 7 days",
            RangePreset::Days30 => "Last 30 days",
            RangePreset::Today => "Today",
            RangePreset::Yesterday => "Yesterday",
            RangePreset::DayBeforeYesterday => "Day before yesterday",
            RangePreset::ThisWeek => "This week",
            RangePreset::LastWeek => "Last week",
        }
    }

    pub fn parse(s: &str) -> Option<RangePreset> {
        RangePreset::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A `from`/`to` bound: an instant (RFC 3339 with zone) or a wall-clock time read in `tz`
/// (what an HTML `datetime-local` input gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeBound {
    Instant(DateTime<Utc>),
    Local(NaiveDateTime),
}

impl TimeBound {
    /// Reads a bound in years 1 to 9999. Further out, chrono can name the year but not move
    /// it through a time zone or by a preset's length (`-262143-01-01T00:00` in Tokyo would
    /// overflow), and no stored event is anywhere near.
    pub fn parse(raw: &str) -> Option<TimeBound> {
        use chrono::Datelike;
        let bound = if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            TimeBound::Instant(t.with_timezone(&Utc))
        } else {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
                .map(TimeBound::Local)?
        };
        let year = match bound {
            TimeBound::Instant(t) => t.year(),
            TimeBound::Local(t) => t.year(),
        };
        (1..=9999).contains(&year).then_some(bound)
    }

    fn to_query(self) -> String {
        match self {
            TimeBound::Instant(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            TimeBound::Local(t) => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        }
    }
}

/// Which events to show. `Default` is "everything".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub range: Option<RangePreset>,
    pub from: Option<TimeBound>,
    pub to: Option<TimeBound>,
    /// IANA zone name for calendar presets and wall-clock bounds; UTC when absent.
    pub tz: Option<String>,
    /// Matches the actor's id, name or email.
    pub actor: Vec<String>,
    pub project: Vec<String>,
    pub module: Vec<String>,
    pub action: Vec<String>,
    pub category: Vec<String>,
    pub result: Vec<Outcome>,
    pub ip: Vec<String>,
    /// Matches the target's id or name.
    pub target: Vec<String>,
    pub trace_id: Vec<String>,
    pub flagged: Option<bool>,
    /// Keyword search over description, error, target, actor and details.
    pub q: Option<String>,
    /// `details.KEY=value`: values of a key of `details`, one of [`crate::DETAIL_KEYS`].
    pub details: std::collections::BTreeMap<String, Vec<String>>,
    /// A log view's id ([`crate::VIEWS`]): its category or project preset applies.
    pub view: Option<String>,
    /// Set by [`Filter::as_listed`], never by a query string: see there.
    #[serde(skip)]
    pub leave_out_trail: bool,
}

/// A query parameter that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{param}: {message}")]
pub struct FilterError {
    pub param: String,
    pub message: String,
}

impl FilterError {
    pub fn new(param: &str, message: impl Into<String>) -> Self {
        FilterError { param: param.to_owned(), message: message.into() }
    }
}

impl Filter {
    /// Every query key a filter understands.
    pub const KEYS: [&'static str; 16] = [
        "range", "from", "to", "tz", "actor", "project", "module", "action", "category", "result",
        "ip", "target", "trace_id", "flagged", "q", "view",
    ];

    /// Parses a query string (with or without the leading `?`). Pairs whose key is not a filter
    /// key are handed back so the caller can read its own (`cursor`, `format`) and refuse the rest.
    pub fn from_query(query: &str) -> Result<(Filter, Vec<(String, String)>), FilterError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        if query.len() > limits::FILTER_QUERY_MAX {
            return Err(FilterError::new(
                "query",
                format!("must be at most {} bytes", limits::FILTER_QUERY_MAX),
            ));
        }
        let mut filter = Filter::default();
        let mut rest = Vec::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            if let Some(detail) = key.strip_prefix("details.") {
                if !value.is_empty() {
                    filter.set_detail(detail, value)?;
                }
                continue;
            }
            if !Filter::KEYS.contains(&key.as_ref()) {
                rest.push((key.into_owned(), value.to_owned()));
                continue;
            }
            if value.is_empty() {
                continue;
            }
            filter.set(&key, value)?;
        }
        filter.dedup_values()?;
        filter.check()?;
        Ok((filter, rest))
    }

    /// Drops repeated values, first one kept, in one pass per key, and refuses a key with more
    /// distinct values than [`limits::FILTER_VALUES_MAX`].
    fn dedup_values(&mut self) -> Result<(), FilterError> {
        for key in ["actor", "project", "module", "action", "category", "target", "trace_id", "ip"]
        {
            let list = self.list_mut(key).expect("a list key");
            let mut seen = std::collections::HashSet::with_capacity(list.len());
            list.retain(|v| seen.insert(v.clone()));
            if list.len() > limits::FILTER_VALUES_MAX {
                return Err(FilterError::new(
                    key,
                    format!("at most {} values", limits::FILTER_VALUES_MAX),
                ));
            }
        }
        for (key, list) in &mut self.details {
            let mut seen = std::collections::HashSet::with_capacity(list.len());
            list.retain(|v| seen.insert(v.clone()));
            if list.len() > limits::FILTER_VALUES_MAX {
                return Err(FilterError::new(
                    &format!("details.{key}"),
                    format!("at most {} values", limits::FILTER_VALUES_MAX),
                ));
            }
        }
        Ok(())
    }

    fn set_detail(&mut self, key: &str, value: &str) -> Result<(), FilterError> {
        let param = format!("details.{key}");
        if !crate::DETAIL_KEYS.contains(&key) {
            return Err(FilterError::new(
                &param,
                format!("not a filterable detail; those are {}", crate::DETAIL_KEYS.join(", ")),
            ));
        }
        if value.chars().count() > limits::TEXT_MAX {
            return Err(FilterError::new(&param, "value is too long"));
        }
        self.details.entry(key.to_owned()).or_default().push(value.to_owned());
        Ok(())
    }

    /// The filter with its view's preset applied: the view's category, or its project.
    pub fn with_view_preset(&self) -> Filter {
        let mut filter = self.clone();
        if let Some(view) = self.view.as_deref().and_then(crate::views::view) {
            if let Some(category) = view.category {
                filter.category = vec![category.to_owned()];
            }
            if let Some(project) = view.project {
                filter.project = vec![project.to_owned()];
            }
        }
        filter
    }

    /// The filter as a person's or key's list (and its exports) read it: a view with no project
    /// asked for leaves out the access trail, which has a view of its own. Command-line reads,
    /// copies and deliveries read the filter as it is, trail included.
    pub fn as_listed(&self) -> Filter {
        let leave_out_trail = self.project.is_empty() && self.log_view().project.is_none();
        Filter { leave_out_trail, ..self.clone() }
    }

    /// The view this filter shows: [`crate::views::ALL`] without one.
    pub fn log_view(&self) -> &'static crate::LogView {
        self.view.as_deref().and_then(crate::views::view).unwrap_or(&crate::views::ALL)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), FilterError> {
        let single = |present: bool| {
            if present { Err(FilterError::new(key, "may be given only once")) } else { Ok(()) }
        };
        let too_long = |max: usize| value.chars().count() > max;
        match key {
            // The form's "Custom range…" choice: the bounds come from `from`/`to`.
            "range" if value == "custom" => {}
            "range" => {
                single(self.range.is_some())?;
                let preset = RangePreset::parse(value).ok_or_else(|| {
                    let names: Vec<_> = RangePreset::ALL.iter().map(|p| p.as_str()).collect();
                    FilterError::new(key, format!("must be one of {}", names.join(", ")))
                })?;
                self.range = Some(preset);
            }
            "from" | "to" => {
                let slot = if key == "from" { &mut self.from } else { &mut self.to };
                if slot.is_some() {
                    return Err(FilterError::new(key, "may be given only once"));
                }
                *slot = Some(TimeBound::parse(value).ok_or_else(|| {
                    FilterError::new(
                        key,
                        "must be RFC 3339 (2026-11-23T10:00:00Z) or a local time \
                         (2026-11-23T10:00), in the years 1 to 9999",
                    )
                })?);
            }
            "tz" => {
                single(self.tz.is_some())?;
                let plausible = value.len() <= 64
                    && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
                if !plausible {
                    return Err(FilterError::new(
                        key,
                        "must be an IANA time zone, e.g. Europe/Berlin",
                    ));
                }
                self.tz = Some(value.to_owned());
            }
            "result" => {
                let outcome = Outcome::parse(value)
                    .ok_or_else(|| FilterError::new(key, "must be success or failure"))?;
                if !self.result.contains(&outcome) {
                    self.result.push(outcome);
                }
            }
            "flagged" => {
                single(self.flagged.is_some())?;
                self.flagged = Some(match value {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(FilterError::new(key, "must be true or false")),
                });
            }
            "view" => {
                single(self.view.is_some())?;
                let view = crate::views::view(value).ok_or_else(|| {
                    let ids: Vec<_> = crate::VIEWS.iter().map(|v| v.id).collect();
                    FilterError::new(key, format!("must be one of {}", ids.join(", ")))
                })?;
                // The default view is no view: one URL per list.
                if view.id != crate::views::ALL.id {
                    self.view = Some(view.id.to_owned());
                }
            }
            "q" => {
                single(self.q.is_some())?;
                if too_long(limits::QUERY_MAX) {
                    return Err(FilterError::new(
                        key,
                        format!("must be at most {} characters", limits::QUERY_MAX),
                    ));
                }
                if !value.chars().any(char::is_alphanumeric) {
                    return Err(FilterError::new(key, "must contain a letter or digit"));
                }
                if value.split_whitespace().count() > limits::SEARCH_TERMS_MAX {
                    return Err(FilterError::new(
                        key,
                        format!("at most {} search terms", limits::SEARCH_TERMS_MAX),
                    ));
                }
                self.q = Some(value.to_owned());
            }
            "ip" => {
                // Stored the same way: IP addresses in their standard form, names as written.
                let address =
                    crate::source_address(value).map_err(|why| FilterError::new(key, why))?;
                self.ip.push(address);
            }
            _ => {
                if too_long(limits::TEXT_MAX) {
                    return Err(FilterError::new(key, "value is too long"));
                }
                // Repeats are dropped once all values are in (`dedup_values`).
                self.list_mut(key).expect("KEYS and list_mut agree").push(value.to_owned());
            }
        }
        Ok(())
    }

    fn list_mut(&mut self, key: &str) -> Option<&mut Vec<String>> {
        Some(match key {
            "actor" => &mut self.actor,
            "ip" => &mut self.ip,
            "project" => &mut self.project,
            "module" => &mut self.module,
            "action" => &mut self.action,
            "category" => &mut self.category,
            "target" => &mut self.target,
            "trace_id" => &mut self.trace_id,
            _ => return None,
        })
    }

    fn check(&self) -> Result<(), FilterError> {
        if self.range.is_some() && (self.from.is_some() || self.to.is_some()) {
            return Err(FilterError::new("range", "use either range or from/to, not both"));
        }
        #[cfg(feature = "tz")]
        self.zone()?;
        Ok(())
    }

    /// The query-string form, keys in a stable order; `Filter::from_query` reads it back.
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        if let Some(r) = self.range {
            out.append_pair("range", r.as_str());
        }
        if let Some(f) = self.from {
            out.append_pair("from", &f.to_query());
        }
        if let Some(t) = self.to {
            out.append_pair("to", &t.to_query());
        }
        for (key, values) in [
            ("actor", &self.actor),
            ("project", &self.project),
            ("module", &self.module),
            ("action", &self.action),
            ("category", &self.category),
        ] {
            for v in values {
                out.append_pair(key, v);
            }
        }
        for r in &self.result {
            out.append_pair("result", r.as_str());
        }
        for (key, values) in
            [("ip", &self.ip), ("target", &self.target), ("trace_id", &self.trace_id)]
        {
            for v in values {
                out.append_pair(key, v);
            }
        }
        for (key, values) in &self.details {
            for v in values {
                out.append_pair(&format!("details.{key}"), v);
            }
        }
        if let Some(f) = self.flagged {
            out.append_pair("flagged", if f { "true" } else { "false" });
        }
        if let Some(q) = &self.q {
            out.append_pair("q", q);
        }
        if let Some(tz) = &self.tz {
            out.append_pair("tz", tz);
        }
        if let Some(view) = &self.view {
            out.append_pair("view", view);
        }
        out.finish()
    }

    /// The terms of `q`, split on whitespace; every term must match. A term is the run of
    /// words it holds (`alice@example.com` is alice, example, com in sequence), matched as whole
    /// words unless it ends in `*`, which makes its last word a prefix.
    pub fn search_terms(&self) -> Vec<SearchTerm> {
        self.q
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|token| {
                let words: Vec<String> = words(token).collect();
                (!words.is_empty()).then(|| SearchTerm { words, prefix: token.ends_with('*') })
            })
            .collect()
    }
}

/// The searchable words of a text: runs of letters and digits, lower-cased. Indexing and
/// querying both split this way, so every backend matches the same events.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// One required part of a keyword search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    /// Lower-cased words that must appear in this order.
    pub words: Vec<String>,
    /// The last word may be the start of a longer word.
    pub prefix: bool,
}

/// The resolved time bounds of a filter: `from` inclusive, `to` exclusive.
#[cfg(feature = "tz")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[cfg(feature = "tz")]
impl Filter {
    /// The zone named by `tz`, UTC when absent.
    pub fn zone(&self) -> Result<chrono_tz::Tz, FilterError> {
        match &self.tz {
            None => Ok(chrono_tz::UTC),
            Some(name) => name.parse().map_err(|_| {
                FilterError::new(
                    "tz",
                    format!("unknown time zone {name:?}; use an IANA name such as Europe/Berlin"),
                )
            }),
        }
    }

    /// Turns the preset or bounds into instants, with calendar presets computed in `tz`.
    pub fn time_window(&self, now: DateTime<Utc>) -> Result<TimeWindow, FilterError> {
        use chrono::{Datelike, Duration, NaiveTime, Offset, TimeZone};

        let zone = self.zone()?;
        let local_to_utc = |naive: NaiveDateTime| -> DateTime<Utc> {
            if let Some(t) = zone.from_local_datetime(&naive).earliest() {
                return t.with_timezone(&Utc);
            }
            // A wall-clock time skipped by a DST jump is read with the offset in force before
            // the jump, i.e. moved later by the gap (02:10 in a 02:00–03:00 gap is 03:10), as
            // java.time and the browser do.
            let before = zone.offset_from_utc_datetime(&(naive - Duration::hours(3)));
            Utc.from_utc_datetime(
                &(naive - Duration::seconds(before.fix().local_minus_utc().into())),
            )
        };
        let bound = |b: TimeBound| match b {
            TimeBound::Instant(t) => t,
            TimeBound::Local(naive) => local_to_utc(naive),
        };
        let Some(range) = self.range else {
            let window = TimeWindow { from: self.from.map(bound), to: self.to.map(bound) };
            if let (Some(f), Some(t)) = (window.from, window.to)
                && f >= t
            {
                return Err(FilterError::new("from", "must be before to"));
            }
            return Ok(window);
        };
        let back = |d: Duration| Ok(TimeWindow { from: Some(now - d), to: None });
        let today = now.with_timezone(&zone).date_naive();
        let days = |first: chrono::NaiveDate, count: i64| {
            let start = local_to_utc(first.and_time(NaiveTime::MIN));
            let end = local_to_utc((first + Duration::days(count)).and_time(NaiveTime::MIN));
            Ok(TimeWindow { from: Some(start), to: Some(end) })
        };
        let monday = today - Duration::days(today.weekday().num_days_from_monday().into());
        match range {
            RangePreset::Minutes5 => back(Duration::minutes(5)),
            RangePreset::Minutes15 => back(Duration::minutes(15)),
            RangePreset::Hours1 => back(Duration::hours(1)),
            RangePreset::Hours2 => back(Duration::hours(2)),
            RangePreset::Hours6 => back(Duration::hours(6)),
            RangePreset::Days1 => back(Duration::days(1)),
            RangePreset::Days3 => back(Duration::days(3)),
            RangePreset::Days7 => back(Duration::days(7)),
            RangePreset::Days30 => back(Duration::days(30)),
            RangePreset::Today => days(today, 1),
            RangePreset::Yesterday => days(today - Duration::days(1), 1),
            RangePreset::DayBeforeYesterday => days(today - Duration::days(2), 1),
            RangePreset::ThisWeek => days(monday, 7),
            RangePreset::LastWeek => days(monday - Duration::days(7), 7),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips() {
        let q = "range=today&actor=alice%40example.com&project=shop&project=blog&result=failure&ip=10.0.0.1&flagged=true&q=deleted+project&tz=Europe%2FBerlin";
        let (filter, rest) = Filter::from_query(q).unwrap();
        assert!(rest.is_empty());
        assert_eq!(filter.project, ["shop", "blog"]);
        assert_eq!(filter.actor, ["alice@example.com"]);
        assert_eq!(Filter::from_query(&filter.to_query()).unwrap().0, filter);
    }

    #[test]
    fn empty_values_are_ignored_and_other_keys_returned() {
        let (filter, rest) = Filter::from_query("?project=&module=Login&cursor=abc").unwrap();
        assert!(filter.project.is_empty());
        assert_eq!(filter.module, ["Login"]);
        assert_eq!(rest, [("cursor".to_owned(), "abc".to_owned())]);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (q, param) in [
            ("range=2w", "range"),
            ("result=ok", "result"),
            ("from=last+tuesday", "from"),
            ("ip=a%01b", "ip"),
            ("flagged=perhaps", "flagged"),
            ("q=%21%21%21", "q"),
            ("range=1d&from=2026-01-01T00:00", "range"),
            ("tz=Not%20A%20Zone", "tz"),
            ("from=-262143-01-01T00:00&tz=Asia/Tokyo", "from"),
            ("to=+262142-12-31T23:59:59Z", "to"),
            ("from=0000-01-01T00:00", "from"),
        ] {
            assert_eq!(Filter::from_query(q).unwrap_err().param, param, "{q}");
        }
    }

    #[test]
    fn oversized_filters_are_refused_naming_the_limit() {
        let many: String =
            (0..=limits::FILTER_VALUES_MAX).map(|i| format!("project=p{i}&")).collect();
        let err = Filter::from_query(&many).unwrap_err();
        assert_eq!(err.param, "project");
        assert!(err.message.contains("100"), "{err}");

        // Repeats count once, whatever their number.
        let repeated = "action=a&".repeat(800);
        assert_eq!(Filter::from_query(&repeated).unwrap().0.action, ["a"]);

        let long = format!("q={}", "x".repeat(limits::FILTER_QUERY_MAX));
        assert_eq!(Filter::from_query(&long).unwrap_err().param, "query");
        let terms = format!("q={}", "a ".repeat(limits::SEARCH_TERMS_MAX + 1));
        assert!(Filter::from_query(&terms).unwrap_err().message.contains("search terms"));
    }

    #[test]
    fn search_terms_split_on_whitespace_then_punctuation() {
        let (f, _) = Filter::from_query("q=Alice%40Example.com+dele*+%2B%2B").unwrap();
        let terms = f.search_terms();
        assert_eq!(terms.len(), 2);
        assert_eq!(
            terms[0],
            SearchTerm {
                words: vec!["alice".into(), "example".into(), "com".into()],
                prefix: false
            }
        );
        assert_eq!(terms[1], SearchTerm { words: vec!["dele".into()], prefix: true });
    }
}

#[cfg(all(test, feature = "tz"))]
mod window_tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn today_is_computed_in_the_given_zone() {
        // 23:30 UTC on the 23rd is already the 24th in Berlin.
        let now = at("2026-11-23T23:30:00Z");
        let (f, _) = Filter::from_query("range=today&tz=Europe/Berlin").unwrap();
        let w = f.time_window(now).unwrap();
        assert_eq!(w.from, Some(at("2026-11-23T23:00:00Z")));
        assert_eq!(w.to, Some(at("2026-11-24T23:00:00Z")));
    }

    #[test]
    fn a_time_in_a_dst_gap_moves_later_by_the_gap() {
        let now = at("2026-11-23T12:00:00Z");
        // Berlin skipped 02:00–03:00 on 2026-03-29.
        let (f, _) = Filter::from_query("from=2026-03-29T02:10&tz=Europe/Berlin").unwrap();
        assert_eq!(f.time_window(now).unwrap().from, Some(at("2026-03-29T01:10:00Z")));
    }

    #[test]
    fn far_bounds_and_custom_range_parse() {
        let (f, _) = Filter::from_query("range=custom&to=9999-12-31T00:00:00Z").unwrap();
        assert_eq!(f.range, None);
        assert!(f.time_window(at("2026-11-23T12:00:00Z")).is_ok());
    }

    #[test]
    fn last_week_starts_on_monday() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap(); // a Wednesday
        let (f, _) = Filter::from_query("range=last_week").unwrap();
        let w = f.time_window(now).unwrap();
        assert_eq!(w.from, Some(at("2026-11-16T00:00:00Z")));
        assert_eq!(w.to, Some(at("2026-11-23T00:00:00Z")));
    }

    #[test]
    fn local_bounds_are_read_in_tz_and_must_be_ordered() {
        let now = at("2026-11-23T12:00:00Z");
        let (f, _) = Filter::from_query("from=2026-07-01T10:00&tz=Europe/Berlin").unwrap();
        assert_eq!(f.time_window(now).unwrap().from, Some(at("2026-07-01T08:00:00Z")));
        let (f, _) =
            Filter::from_query("from=2026-07-02T00:00:00Z&to=2026-07-01T00:00:00Z").unwrap();
        assert_eq!(f.time_window(now).unwrap_err().param, "from");
    }
}
