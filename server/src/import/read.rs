//! Records from an export file or a request body: JSON Lines, or JSON documents written over
//! several lines; CloudTrail's `{"Records": […]}` (and Azure's `{"records": […]}`) wrappers
//! and plain arrays are opened up; gzip is recognised by its first bytes. A line that is not
//! JSON is reported and the reading goes on.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use serde_json::Value;

/// A document that never completes is refused past this size instead of filling memory.
const DOCUMENT_MAX_BYTES: usize = 256 * 1024 * 1024;

/// One record and the line its document started on, for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub line: usize,
    pub value: Value,
}

/// The records in `input`, in order; an `Err` names a line that could not be read as JSON.
pub fn records<'a>(
    input: impl Read + Send + 'a,
) -> impl Iterator<Item = Result<Record, String>> + Send + 'a {
    let mut buffered = BufReader::new(input);
    let gzip = buffered.fill_buf().is_ok_and(|start| start.starts_with(&[0x1f, 0x8b]));
    let reader: Box<dyn BufRead + Send + 'a> = if gzip {
        Box::new(BufReader::new(MultiGzDecoder::new(buffered)))
    } else {
        Box::new(buffered)
    };
    Records {
        reader,
        line: 0,
        document: String::new(),
        start: 0,
        pending: VecDeque::new(),
        done: false,
    }
}

struct Records<'a> {
    reader: Box<dyn BufRead + Send + 'a>,
    /// Lines read so far.
    line: usize,
    /// The document being read, which may span lines.
    document: String,
    start: usize,
    pending: VecDeque<Record>,
    done: bool,
}

impl Iterator for Records<'_> {
    type Item = Result<Record, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return Some(Ok(record));
            }
            if self.done {
                return None;
            }
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => {
                    self.done = true;
                    if !self.document.trim().is_empty() {
                        self.document.clear();
                        return Some(Err(format!(
                            "line {}: the JSON document is cut short",
                            self.start
                        )));
                    }
                    return None;
                }
                Ok(_) => self.line += 1,
                Err(e) => {
                    self.done = true;
                    return Some(Err(format!("line {}: cannot be read: {e}", self.line + 1)));
                }
            }
            if self.document.is_empty() {
                if line.trim().is_empty() {
                    continue;
                }
                self.start = self.line;
            }
            self.document.push_str(&line);
            if let Some(err) = self.parse() {
                return Some(Err(err));
            }
        }
    }
}

impl Records<'_> {
    /// Tries the document read so far: complete, it becomes records; cut short, it waits for
    /// more lines; broken, it is reported, and the line just read is tried on its own, so one
    /// broken line costs only itself.
    fn parse(&mut self) -> Option<String> {
        match serde_json::from_str::<Value>(&self.document) {
            Ok(value) => {
                self.document.clear();
                self.open_up(value);
                None
            }
            Err(e) if e.is_eof() && self.document.len() <= DOCUMENT_MAX_BYTES => None,
            Err(e) => {
                let error = if e.is_eof() {
                    format!(
                        "line {}: a JSON document larger than {DOCUMENT_MAX_BYTES} bytes",
                        self.start
                    )
                } else {
                    format!("line {}: not JSON: {e}", self.start)
                };
                let last = self.document.lines().last().unwrap_or_default().to_owned();
                let spanned = self.start != self.line;
                self.document.clear();
                if spanned && !last.trim().is_empty() {
                    self.start = self.line;
                    self.document = last + "\n";
                    if let Some(again) = self.parse() {
                        return Some(format!("{error}; {again}"));
                    }
                }
                Some(error)
            }
        }
    }

    fn open_up(&mut self, value: Value) {
        let line = self.start;
        let items = match value {
            Value::Array(items) => items,
            Value::Object(mut object) if is_wrapper(&object) => {
                match ["Records", "records"].into_iter().find_map(|k| object.remove(k)) {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                }
            }
            other => vec![other],
        };
        self.pending.extend(items.into_iter().map(|value| Record { line, value }));
    }
}

/// `{"Records": […]}` or `{"records": […]}` and nothing else.
fn is_wrapper(object: &serde_json::Map<String, Value>) -> bool {
    object.len() == 1
        && ["Records", "records"].iter().any(|k| matches!(object.get(*k), Some(Value::Array(_))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn all(text: &[u8]) -> Vec<Result<Record, String>> {
        records(text).collect()
    }

    #[test]
    fn json_lines_wrappers_and_pretty_documents() {
        let text =
            b"{\"a\":1}\n\n{\"Records\":[{\"b\":2},{\"b\":3}]}\n[{\"c\":4}]\n{\n  \"d\": 5\n}\n";
        let got: Vec<(usize, Value)> =
            all(text).into_iter().map(|r| r.map(|r| (r.line, r.value)).unwrap()).collect();
        let want = [
            (1, serde_json::json!({"a": 1})),
            (3, serde_json::json!({"b": 2})),
            (3, serde_json::json!({"b": 3})),
            (4, serde_json::json!({"c": 4})),
            (5, serde_json::json!({"d": 5})),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_broken_line_costs_only_itself() {
        let got = all(b"{\"a\":1\n{\"b\":2}\nnot json\n{\"c\":3}\n{\"cut\":");
        let summary: Vec<String> = got
            .iter()
            .map(|r| match r {
                Ok(r) => r.value.to_string(),
                Err(e) => e.split(':').next().unwrap().to_owned(),
            })
            .collect();
        assert_eq!(summary, ["line 1", "{\"b\":2}", "line 3", "{\"c\":3}", "line 5"]);
    }

    #[test]
    fn gzip_is_recognised() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"Records\":[{\"a\":1}]}").unwrap();
        let got = all(&gz.finish().unwrap());
        assert_eq!(got, [Ok(Record { line: 1, value: serde_json::json!({"a": 1}) })]);
    }

    #[test]
    fn a_record_named_records_that_is_no_wrapper_stays_whole() {
        let got = all(b"{\"records\":5}\n");
        assert_eq!(got, [Ok(Record { line: 1, value: serde_json::json!({"records": 5}) })]);
    }
}
