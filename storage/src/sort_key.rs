//! The storage sort key: `occurred_at` in µs × 1024 + a slot. Ordering by it is ordering by
//! `occurred_at`, with events of the same microsecond in arrival order; it fits an i64 for every
//! accepted timestamp (1970..2200).

use chrono::{DateTime, Utc};

pub const SLOTS: i64 = 1024;

/// How far a crowded microsecond's events may spill before keys are checked one by one: the
/// slots of one millisecond.
pub const SPILL_SPAN: i64 = 1000 * SLOTS;

/// The first key of the microsecond `t` falls in. Filter bounds far outside the stored years
/// (`to=9999-12-31T00:00:00Z`) saturate, which keeps their meaning: "everything before".
pub fn base(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros().saturating_mul(SLOTS)
}
