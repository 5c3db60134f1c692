//! The columns of a CSV or XLSX export, in the events table's order and then every other field,
//! and the guard that keeps spreadsheets from reading a cell as a formula.

use auditrail_model::Event;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

/// One column: its header, its text, and for times the instant itself, which XLSX writes as a
/// date-time cell.
pub struct Column {
    pub name: &'static str,
    pub value: fn(&Event, &Tz) -> String,
    pub instant: Option<fn(&Event) -> DateTime<Utc>>,
    /// Width in characters for spreadsheets.
    pub width: f64,
}

const fn text_column(name: &'static str, value: fn(&Event, &Tz) -> String, width: f64) -> Column {
    Column { name, value, instant: None, width }
}

const fn time_column(name: &'static str, at: fn(&Event) -> DateTime<Utc>) -> Column {
    Column { name, value: |_, _| String::new(), instant: Some(at), width: 22.0 }
}

impl Column {
    /// The cell as text: times in RFC 3339 in `zone`, everything else as stored.
    pub fn text(&self, event: &Event, zone: &Tz) -> String {
        match self.instant {
            Some(at) => at(event).with_timezone(zone).to_rfc3339_opts(SecondsFormat::Micros, true),
            None => (self.value)(event, zone),
        }
    }
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// The first columns: the table's, which is all a reader without details gets.
pub const LISTED_COLUMNS: usize = 9;

/// Column order follows the table on the events page, then every remaining field.
pub const COLUMNS: [Column; 22] = [
    time_column("Time", |e| e.occurred_at),
    text_column("User", |e, _| e.actor.label().unwrap_or_default().to_owned(), 24.0),
    text_column("Project", |e, _| e.project.clone(), 16.0),
    text_column("Module", |e, _| e.module.clone(), 20.0),
    text_column("Action", |e, _| e.action.clone(), 24.0),
    text_column("Result", |e, _| e.result.as_str().to_owned(), 9.0),
    text_column("Description", |e, _| text(&e.description), 40.0),
    text_column("IP", |e, _| text(&e.source_ip), 18.0),
    text_column("Flagged", |e, _| if e.flagged { "yes" } else { "no" }.to_owned(), 8.0),
    text_column("Category", |e, _| e.category.clone(), 14.0),
    text_column("Event ID", |e, _| e.id.clone(), 28.0),
    text_column("Actor ID", |e, _| text(&e.actor.id), 24.0),
    text_column("Actor email", |e, _| text(&e.actor.email), 28.0),
    text_column(
        "Actor type",
        |e, _| e.actor.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        10.0,
    ),
    text_column("Target type", |e, _| text(&e.target.kind), 16.0),
    text_column("Target ID", |e, _| text(&e.target.id), 24.0),
    text_column("Target name", |e, _| text(&e.target.name), 24.0),
    text_column("Error", |e, _| text(&e.error), 40.0),
    text_column("Trace ID", |e, _| text(&e.trace_id), 24.0),
    text_column("User agent", |e, _| text(&e.user_agent), 40.0),
    time_column("Received at", |e| e.received_at),
    text_column("Details", |e, _| serde_json::to_string(&e.details).unwrap_or_default(), 60.0),
];

/// Stops spreadsheets from evaluating a cell as a formula (OWASP "CSV injection", CWE-1236):
/// a cell starting with a formula trigger or its full-width form, also after leading whitespace
/// (spreadsheets skip spaces and no-break spaces before a formula), gets a leading apostrophe.
pub fn neutralise(cell: String) -> String {
    const TRIGGERS: [char; 12] =
        ['=', '+', '-', '@', '\t', '\r', '\n', '\0', '＝', '＋', '－', '＠'];
    let after_space = cell.trim_start_matches(char::is_whitespace);
    if cell.starts_with(TRIGGERS) || after_space.starts_with(TRIGGERS) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// Every cell quoted: Excel in locales whose list separator is `;` splits an unquoted cell at
/// each `;`, and the part after one could start a formula.
pub(super) fn csv_writer(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new().quote_style(csv::QuoteStyle::Always).from_writer(out)
}

#[cfg(test)]
mod tests {
    use super::{csv_writer, neutralise};

    #[test]
    fn cells_with_semicolons_are_quoted() {
        let mut out = Vec::new();
        let mut writer = csv_writer(&mut out);
        writer.write_record(["a;=1+1", "plain"]).unwrap();
        drop(writer);
        assert_eq!(String::from_utf8(out).unwrap(), "\"a;=1+1\",\"plain\"\n");
    }

    #[test]
    fn formula_triggers_are_neutralised() {
        for bad in
            ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx", "\nx", "＝1", "＋1", "－1", "＠x"]
        {
            assert_eq!(neutralise(bad.to_owned()), format!("'{bad}"));
        }
        for bad in [" =1+1", "\u{a0}=1+1", "  \u{a0}@SUM(A1)", "\u{3000}-2"] {
            assert_eq!(neutralise(bad.to_owned()), format!("'{bad}"), "{bad:?}");
        }
        assert_eq!(neutralise("Saved Campaign".to_owned()), "Saved Campaign");
        assert_eq!(neutralise(" a = b".to_owned()), " a = b");
        assert_eq!(neutralise(String::new()), "");
    }
}
