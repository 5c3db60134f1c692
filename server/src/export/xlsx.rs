//! XLSX exports with rust_xlsxwriter in constant-memory mode: each row goes to a temporary file
//! as it is written, so a million rows take the memory of one. Times are real date-time cells
//! (in the export's zone, named in the header), text cells are strings and never formulas, the
//! header row is frozen and filtered, and a sheet that fills up continues on the next.

use std::io::Seek;

use auditrail_model::Event;
use chrono_tz::Tz;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::columns::Column;

/// Rows one worksheet holds, its header row included: Excel's limit.
pub const ROWS_PER_SHEET: u32 = 1_048_576;

/// The longest text an Excel cell holds.
const CELL_CHARS_MAX: usize = 32_767;

/// The workbook being written, one event per row.
pub struct Sheets {
    workbook: Workbook,
    columns: &'static [Column],
    zone: Tz,
    rows_per_sheet: u32,
    /// How many sheets there are; rows go to the last.
    sheets: usize,
    /// The next row of the last sheet.
    row: u32,
    header: Format,
    time: Format,
}

impl Sheets {
    pub fn new(
        columns: &'static [Column],
        zone: Tz,
        rows_per_sheet: u32,
    ) -> Result<Sheets, XlsxError> {
        let mut sheets = Sheets {
            workbook: Workbook::new(),
            columns,
            zone,
            rows_per_sheet: rows_per_sheet.max(2),
            sheets: 0,
            row: 0,
            header: Format::new().set_bold(),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss.000"),
        };
        sheets.add_sheet()?;
        Ok(sheets)
    }

    /// A new sheet with the header row, frozen.
    fn add_sheet(&mut self) -> Result<(), XlsxError> {
        self.sheets += 1;
        let name =
            if self.sheets == 1 { "Events".to_owned() } else { format!("Events {}", self.sheets) };
        let sheet = self.workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(name)?;
        for (c, column) in (0u16..).zip(self.columns) {
            sheet.set_column_width(c, column.width)?;
            let title = match column.instant {
                Some(_) => format!("{} ({})", column.name, self.zone),
                None => column.name.to_owned(),
            };
            sheet.write_string_with_format(0, c, title, &self.header)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        self.row = 1;
        Ok(())
    }

    /// The autofilter over the last sheet's header and rows.
    fn close_sheet(&mut self) -> Result<(), XlsxError> {
        let last_column = u16::try_from(self.columns.len().saturating_sub(1)).unwrap_or(u16::MAX);
        let sheet = self.workbook.worksheet_from_index(self.sheets - 1)?;
        sheet.autofilter(0, 0, self.row.saturating_sub(1).max(1), last_column)?;
        Ok(())
    }

    pub fn add(&mut self, event: &Event) -> Result<(), XlsxError> {
        if self.row >= self.rows_per_sheet {
            self.close_sheet()?;
            self.add_sheet()?;
        }
        let (row, zone) = (self.row, self.zone);
        let sheet = self.workbook.worksheet_from_index(self.sheets - 1)?;
        for (c, column) in (0u16..).zip(self.columns) {
            match column.instant {
                Some(at) => {
                    let local = at(event).with_timezone(&zone).naive_local();
                    sheet.write_datetime_with_format(row, c, local, &self.time)?;
                }
                None => {
                    let text = (column.value)(event, &zone);
                    if !text.is_empty() {
                        sheet.write_string(row, c, fit(text))?;
                    }
                }
            }
        }
        self.row += 1;
        Ok(())
    }

    /// The finished workbook, in an anonymous temporary file read from its start.
    pub fn finish(mut self) -> Result<std::fs::File, XlsxError> {
        self.close_sheet()?;
        let mut file = tempfile::tempfile()?;
        self.workbook.save_to_writer(&mut file)?;
        file.rewind()?;
        Ok(file)
    }
}

/// A cell's text within Excel's limit; a longer one (large `details`) says where it was cut and
/// where the whole value is, rather than being cut silently.
fn fit(text: String) -> String {
    if text.chars().count() <= CELL_CHARS_MAX {
        return text;
    }
    let kept: String = text.chars().take(CELL_CHARS_MAX - 200).collect();
    let cut = text.chars().count() - kept.chars().count();
    format!(
        "{kept}… [cut by Excel's cell limit: {cut} more characters; the JSON Lines export holds the whole value]"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::columns::COLUMNS;
    use calamine::{Data, Reader, Xlsx};

    fn event(i: usize, description: &str) -> Event {
        let json = serde_json::json!({
            "id": format!("e{i}"), "occurred_at": "2026-03-01T10:15:30.123456Z",
            "received_at": "2026-03-01T10:15:31Z", "project": "shop", "category": "activity",
            "module": "m", "action": "a", "result": "success", "actor": {}, "target": {},
            "details": {}, "flagged": false, "description": description,
            "source_ip": null, "user_agent": null, "error": null, "trace_id": null,
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn full_sheets_continue_on_the_next_with_the_header_repeated() {
        let mut sheets = Sheets::new(&COLUMNS, chrono_tz::Europe::Berlin, 4).unwrap();
        for i in 0..7 {
            sheets.add(&event(i, &format!("=HYPERLINK(\"x\") {i}"))).unwrap();
        }
        let file = sheets.finish().unwrap();
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::BufReader::new(file)).unwrap();
        assert_eq!(book.sheet_names(), ["Events", "Events 2", "Events 3"]);
        let mut seen = Vec::new();
        let id_at = COLUMNS.iter().position(|c| c.name == "Event ID").unwrap();
        for name in book.sheet_names() {
            let range = book.worksheet_range(&name).unwrap();
            let rows: Vec<_> = range.rows().collect();
            assert_eq!(rows[0][0], Data::String("Time (Europe/Berlin)".into()), "{name}");
            for row in &rows[1..] {
                // A formula-looking text stays a string cell.
                assert!(
                    matches!(&row[6], Data::String(s) if s.starts_with("=HYPERLINK")),
                    "{row:?}"
                );
                assert!(matches!(row[0], Data::DateTime(_)), "{row:?}");
                seen.push(row[id_at].clone());
            }
        }
        let ids: Vec<Data> = (0..7).map(|i| Data::String(format!("e{i}"))).collect();
        assert_eq!(seen, ids, "every row once, in order, none cut");
    }

    #[test]
    fn text_past_the_cell_limit_says_so() {
        let long = "x".repeat(40_000);
        let cell = fit(long);
        assert!(cell.chars().count() <= CELL_CHARS_MAX);
        assert!(cell.ends_with("the JSON Lines export holds the whole value]"));
    }
}
