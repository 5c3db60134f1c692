//! Filter → SQL, shared by every dialect: one place decides what each filter means. Values are
//! always bound as parameters, never spliced into the text.

use auditrail_model::{DETAIL_KEYS, Narrowed, TRAIL_PROJECT, TimeWindow};

use crate::sort_key;

/// A bound parameter.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    Null,
}

/// SQL text plus its parameters, written through [`SqlBuf::bind`] so placeholders match the
/// dialect.
pub(crate) struct SqlBuf {
    pub sql: String,
    pub args: Vec<Arg>,
    placeholder: fn(usize) -> String,
}

impl SqlBuf {
    pub fn new(placeholder: fn(usize) -> String) -> Self {
        SqlBuf { sql: String::new(), args: Vec::new(), placeholder }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        let p = (self.placeholder)(self.args.len());
        self.sql.push_str(&p);
        self
    }

    /// `(p1, p2, …)`: a parenthesised list of bound values.
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self.push(")")
    }

    /// `(col IN (…) OR col2 IN (…))` over the same values.
    fn any_in(&mut self, columns: &[&str], values: &[String]) {
        self.push(" AND (");
        for (i, col) in columns.iter().enumerate() {
            if i > 0 {
                self.push(" OR ");
            }
            self.push(col).push(" IN ");
            self.bind_list(values.iter().cloned().map(Arg::Text));
        }
        self.push(")");
    }
}

/// How a dialect shows a query's plan (for tests): the statement's prefix, settings around it,
/// and the column of each plan line.
#[cfg(feature = "testing")]
pub(crate) struct Explain {
    pub prefix: &'static str,
    pub before: &'static [&'static str],
    pub after: &'static [&'static str],
    pub column: &'static str,
}

/// The columns `row::EventRow` reads, in its order.
pub(crate) const EVENT_COLUMNS: &str = "e.sort_key, e.id, e.occurred_at, e.received_at, \
    e.project, e.category, e.module, e.action, e.result, e.actor_id, e.actor_name, \
    e.actor_email, e.actor_type, e.source_ip, e.user_agent, e.target_type, e.target_id, \
    e.target_name, e.description, e.error, e.details, e.trace_id, \
    fl.flagged_at AS flagged_at, fl.note AS flag_note, fl.flagged_by AS flag_by";

/// Joined after `events e` wherever [`EVENT_COLUMNS`] are selected: one lookup per row for the
/// flag (three correlated subqueries made a million-row export 15 s slower).
pub(crate) const FLAGS_JOIN: &str = " LEFT JOIN event_flags fl ON fl.event_id = e.id";

/// Appends ` AND …` for every part of the filter except the keyword search, which each dialect
/// matches with its own index. `key` is the sort-key column the outer query walks; `detail`
/// is the dialect's text of a `details` key, as its index (migration 0012) has it.
pub(crate) fn push_conditions(
    buf: &mut SqlBuf,
    narrowed: &Narrowed,
    window: TimeWindow,
    key: &str,
    detail: fn(&'static str) -> String,
) {
    let filter = &narrowed.filter;
    if narrowed.hide_trail {
        buf.push(" AND e.project <> ").bind(Arg::Text(TRAIL_PROJECT.to_owned()));
    }
    if let Some(from) = window.from {
        buf.push(" AND ").push(key).push(" >= ").bind(Arg::Int(sort_key::base(from)));
    }
    if let Some(to) = window.to {
        buf.push(" AND ").push(key).push(" < ").bind(Arg::Int(sort_key::base(to)));
    }
    let results: Vec<String> = filter.result.iter().map(|r| r.as_str().to_owned()).collect();
    for (columns, values) in [
        (&["e.actor_id", "e.actor_name", "e.actor_email"][..], &filter.actor),
        (&["e.project"][..], &filter.project),
        (&["e.module"][..], &filter.module),
        (&["e.category"][..], &filter.category),
        (&["e.result"][..], &results),
        (&["e.source_ip"][..], &filter.ip),
        (&["e.target_id", "e.target_name"][..], &filter.target),
        (&["e.trace_id"][..], &filter.trace_id),
    ] {
        if !values.is_empty() {
            buf.any_in(columns, values);
        }
    }
    if !filter.action.is_empty() {
        push_actions(buf, &filter.action);
    }
    for (name, values) in &filter.details {
        // Only the keys the filter accepts reach the SQL text; each has its index.
        if let Some(name) = DETAIL_KEYS.iter().find(|k| *k == name) {
            buf.push(" AND ").push(&detail(name)).push(" IN ");
            buf.bind_list(values.iter().cloned().map(Arg::Text));
        }
    }
    match filter.flagged {
        Some(true) => buf.push(" AND e.id IN (SELECT event_id FROM event_flags)"),
        Some(false) => buf.push(" AND e.id NOT IN (SELECT event_id FROM event_flags)"),
        None => buf,
    };
}

/// ` AND (…)` for the `action` filter: exact names, and for a value ending in `.*` every name
/// that starts with what comes before the `*` (`user.session.*`). Compared by characters on
/// both backends, case and all, so no `LIKE` wildcard or collation can widen it.
fn push_actions(buf: &mut SqlBuf, actions: &[String]) {
    let (prefixes, exact): (Vec<&String>, Vec<&String>) =
        actions.iter().partition(|a| a.ends_with(".*"));
    buf.push(" AND (");
    if !exact.is_empty() {
        buf.push("e.action IN ").bind_list(exact.into_iter().cloned().map(Arg::Text));
        if !prefixes.is_empty() {
            buf.push(" OR ");
        }
    }
    for (i, prefix) in prefixes.into_iter().enumerate() {
        if i > 0 {
            buf.push(" OR ");
        }
        let stem = &prefix[..prefix.len() - 1];
        let length = i64::try_from(stem.chars().count()).unwrap_or(i64::MAX);
        buf.push("substr(e.action, 1, CAST(").bind(Arg::Int(length)).push(" AS INTEGER)) = ");
        buf.bind(Arg::Text(stem.to_owned()));
    }
    buf.push(")");
}
