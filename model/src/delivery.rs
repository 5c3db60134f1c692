//! Daily deliveries: each day's events, filtered, written to object storage after the day ends
//! in the delivery's time zone, beside a manifest.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ExportFormat;

/// A configured daily delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// 1–64 of `a-z 0-9 - _`: names the delivery on the command line and in object names.
    pub name: String,
    /// `file:///dir`, `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`.
    pub destination: String,
    pub format: ExportFormat,
    /// The IANA zone whose midnight ends a day.
    pub time_zone: String,
    /// The list's filter query string, without a time range: the delivery sets the day.
    pub query: String,
    /// Minutes after the zone's midnight when the previous day is delivered.
    pub at_minute: u32,
    /// The first day delivered on schedule: the day the delivery was added, in its zone.
    /// Earlier days are delivered on request (`deliveries run`).
    pub first_day: NaiveDate,
    pub created_at: DateTime<Utc>,
}

impl Delivery {
    /// `HH:MM`.
    pub fn at(&self) -> String {
        format!("{:02}:{:02}", self.at_minute / 60, self.at_minute % 60)
    }

    pub fn parse_name(raw: &str) -> Result<String, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c))
            && raw.starts_with(|c: char| c.is_ascii_alphanumeric());
        if ok {
            Ok(raw.to_owned())
        } else {
            Err(format!(
                "name {raw:?}: use 1 to 64 of a-z, 0-9, - and _, starting with a letter or digit"
            ))
        }
    }

    /// `HH:MM` as minutes after midnight.
    pub fn parse_at(raw: &str) -> Result<u32, String> {
        let err = || format!("at {raw:?}: use HH:MM, from 00:00 to 23:59");
        let (h, m) = raw.split_once(':').ok_or_else(err)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
        if h > 23 || m > 59 || raw.len() != 5 {
            return Err(err());
        }
        Ok(h * 60 + m)
    }
}

/// Where one day's delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Done,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<RunStatus> {
        [RunStatus::Running, RunStatus::Done, RunStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// One day of one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRun {
    pub delivery: String,
    pub day: NaiveDate,
    pub status: RunStatus,
    /// Tries so far; a failed day is tried again with growing pauses.
    pub attempts: u32,
    /// The delivered object's key, once done.
    pub object: Option<String>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When a failed day is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_times_are_checked() {
        assert!(Delivery::parse_name("compliance-daily_1").is_ok());
        for bad in ["", "Daily", "-x", "a/b", &"x".repeat(65)] {
            assert!(Delivery::parse_name(bad).is_err(), "{bad}");
        }
        assert_eq!(Delivery::parse_at("00:00"), Ok(0));
        assert_eq!(Delivery::parse_at("06:30"), Ok(390));
        assert_eq!(Delivery::parse_at("23:59"), Ok(1439));
        for bad in ["24:00", "6:30", "06:60", "0630", "06:3x"] {
            assert!(Delivery::parse_at(bad).is_err(), "{bad}");
        }
    }
}
