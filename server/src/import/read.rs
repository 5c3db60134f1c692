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
/// Memory stays at one record's size: a `Records` wrapper, however large, is read element by
/// element.
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
        line: 1,
        document: Vec::new(),
        start: 0,
        carry: VecDeque::new(),
        in_array: false,
        pending: VecDeque::new(),
        done: false,
    }
}

struct Records<'a> {
    reader: Box<dyn BufRead + Send + 'a>,
    /// The line the next unread byte is on.
    line: usize,
    /// The document being read line by line, which may span lines.
    document: Vec<u8>,
    /// The line `document` (or the wrapper being read) started on.
    start: usize,
    /// Bytes read but not yet used, read again before the reader's.
    carry: VecDeque<u8>,
    /// Inside a `Records` wrapper's array, taking one element at a time.
    in_array: bool,
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
            if self.in_array {
                match self.next_element() {
                    Some(item) => return Some(item),
                    None => continue,
                }
            }
            if self.document.is_empty() && self.carry.is_empty() && self.wrapper_ahead() {
                continue;
            }
            let mut line = Vec::new();
            match self.read_line(&mut line) {
                Ok(0) => {
                    self.done = true;
                    if !self.document.trim_ascii().is_empty() {
                        self.document.clear();
                        let start = self.start;
                        return Some(Err(format!("line {start}: the JSON document is cut short")));
                    }
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(format!("line {}: cannot be read: {e}", self.line)));
                }
            }
            let number = self.line;
            self.line += 1;
            if self.document.is_empty() {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                self.start = number;
            }
            self.document.extend_from_slice(&line);
            if let Some(offset) = wrapper_start(&self.document) {
                // From here the array is read element by element.
                let before = &self.document[..offset];
                self.line = self.start + before.iter().filter(|b| **b == b'\n').count();
                self.carry = self.document.drain(..).skip(offset).collect();
                self.in_array = true;
                continue;
            }
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
        match serde_json::from_slice::<Value>(&self.document) {
            Ok(value) => {
                self.document.clear();
                let line = self.start;
                let items = match value {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                self.pending.extend(items.into_iter().map(|value| Record { line, value }));
                None
            }
            Err(e) if e.is_eof() && self.document.len() <= DOCUMENT_MAX_BYTES => None,
            Err(e) => {
                let start = self.start;
                let error = if e.is_eof() {
                    format!("line {start}: a JSON document larger than {DOCUMENT_MAX_BYTES} bytes")
                } else {
                    format!("line {start}: not JSON: {e}")
                };
                let last_line = self.line - 1;
                let last = self
                    .document
                    .trim_ascii_end()
                    .rsplit(|b| *b == b'\n')
                    .next()
                    .unwrap_or_default()
                    .to_vec();
                self.document.clear();
                if start != last_line && !last.trim_ascii().is_empty() {
                    self.start = last_line;
                    self.document = last;
                    if let Some(again) = self.parse() {
                        return Some(format!("{error}; {again}"));
                    }
                }
                Some(error)
            }
        }
    }

    /// Whether the reader's next bytes open a wrapper (`{"Records": [`, all on one line as
    /// CloudTrail writes it); if so they are taken, and the array is read element by element
    /// without first reading the whole line.
    fn wrapper_ahead(&mut self) -> bool {
        let Ok(ahead) = self.reader.fill_buf() else { return false };
        let Some(offset) = wrapper_start(ahead) else { return false };
        let newlines = ahead[..offset].iter().filter(|b| **b == b'\n').count();
        self.reader.consume(offset);
        self.line += newlines;
        self.start = self.line;
        self.in_array = true;
        true
    }

    /// The next line, the bytes left over from a wrapper first.
    fn read_line(&mut self, line: &mut Vec<u8>) -> std::io::Result<usize> {
        while let Some(b) = self.carry.pop_front() {
            line.push(b);
            if b == b'\n' {
                return Ok(line.len());
            }
        }
        self.reader.read_until(b'\n', line)?;
        Ok(line.len())
    }

    fn next_byte(&mut self) -> Result<Option<u8>, String> {
        let byte = match self.carry.pop_front() {
            Some(b) => Some(b),
            None => {
                let buf = self
                    .reader
                    .fill_buf()
                    .map_err(|e| format!("line {}: cannot be read: {e}", self.line))?;
                let b = buf.first().copied();
                if b.is_some() {
                    self.reader.consume(1);
                }
                b
            }
        };
        if byte == Some(b'\n') {
            self.line += 1;
        }
        Ok(byte)
    }

    /// The next element of the wrapper's array; `None` once the array and its object close.
    fn next_element(&mut self) -> Option<Result<Record, String>> {
        let fail = |this: &mut Self, why: String| {
            this.done = true;
            Some(Err(why))
        };
        let cut_short = |start: usize| format!("line {start}: the Records array is cut short");
        let first = loop {
            match self.next_byte() {
                Err(e) => return fail(self, e),
                Ok(None) => return fail(self, cut_short(self.start)),
                Ok(Some(b)) if b.is_ascii_whitespace() || b == b',' => continue,
                Ok(Some(b)) => break b,
            }
        };
        if first == b']' {
            // The wrapper's own closing brace ends it; anything else after the array is not a
            // wrapper's, and not a record either.
            loop {
                match self.next_byte() {
                    Err(e) => return fail(self, e),
                    Ok(None) => return fail(self, cut_short(self.start)),
                    Ok(Some(b'}')) => break,
                    Ok(Some(b)) if b.is_ascii_whitespace() => continue,
                    Ok(Some(_)) => {
                        let start = self.start;
                        return fail(self, format!("line {start}: more than a Records array"));
                    }
                }
            }
            self.in_array = false;
            return None;
        }
        let line = self.line;
        let mut element = vec![first];
        let (mut depth, mut in_string, mut escaped) = match first {
            b'{' | b'[' => (1usize, false, false),
            b'"' => (0, true, false),
            _ => (0, false, false),
        };
        let scalar = depth == 0 && !in_string;
        loop {
            if !scalar && depth == 0 && !in_string {
                break;
            }
            let b = match self.next_byte() {
                Err(e) => return fail(self, e),
                Ok(None) => return fail(self, cut_short(line)),
                Ok(Some(b)) => b,
            };
            if element.len() > DOCUMENT_MAX_BYTES {
                return fail(
                    self,
                    format!("line {line}: a record larger than {DOCUMENT_MAX_BYTES} bytes"),
                );
            }
            if scalar {
                if b == b',' || b == b']' || b.is_ascii_whitespace() {
                    self.carry.push_front(b);
                    if b == b'\n' {
                        self.line -= 1;
                    }
                    break;
                }
            } else if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth -= 1,
                    _ => {}
                }
            }
            element.push(b);
        }
        Some(
            serde_json::from_slice(&element)
                .map(|value| Record { line, value })
                .map_err(|e| format!("line {line}: not JSON: {e}")),
        )
    }
}

/// Where the elements of a `{"Records": [` (or `"records"`) wrapper begin in `document`, if it
/// starts like one.
fn wrapper_start(document: &[u8]) -> Option<usize> {
    let skip = |at: usize| {
        at + document
            .get(at..)
            .map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_whitespace()).count())
    };
    let mut at = skip(0);
    if document.get(at) != Some(&b'{') {
        return None;
    }
    at = skip(at + 1);
    let key = document.get(at..at + 9)?;
    if key != b"\"Records\"" && key != b"\"records\"" {
        return None;
    }
    at = skip(at + 9);
    if document.get(at) != Some(&b':') {
        return None;
    }
    at = skip(at + 1);
    (document.get(at) == Some(&b'[')).then_some(at + 1)
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
    fn a_pretty_wrapper_is_read_element_by_element_with_lines() {
        let text = b"{\n  \"Records\": [\n    {\"a\": \"x,]}\\\"\"},\n    {\"b\": [1, {\"c\": 2}]},\n    7,\n    {broken}\n  ]\n}\n{\"after\": 1}\n";
        let got: Vec<Result<(usize, Value), String>> =
            all(text).into_iter().map(|r| r.map(|r| (r.line, r.value))).collect();
        assert_eq!(got[0], Ok((3, serde_json::json!({"a": "x,]}\""}))));
        assert_eq!(got[1], Ok((4, serde_json::json!({"b": [1, {"c": 2}]}))));
        assert_eq!(got[2], Ok((5, serde_json::json!(7))));
        assert!(got[3].as_ref().unwrap_err().starts_with("line 6: not JSON"), "{:?}", got[3]);
        assert_eq!(got[4], Ok((9, serde_json::json!({"after": 1}))));
        assert_eq!(got.len(), 5);
    }

    /// Counts what was read from it.
    struct Counted<'a>(&'a [u8], std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
    }

    #[test]
    fn a_one_line_wrapper_is_not_read_whole_before_its_first_record() {
        let record = br#"{"eventName":"GetObject","padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
        let mut text = b"{\"Records\":[".to_vec();
        for _ in 0..100_000 {
            text.extend_from_slice(record);
            text.push(b',');
        }
        text.extend_from_slice(record);
        text.extend_from_slice(b"]}");
        let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut records = records(Counted(&text, read.clone()));
        assert!(records.next().unwrap().is_ok());
        let so_far = read.load(std::sync::atomic::Ordering::Relaxed);
        assert!(so_far < 64 * 1024, "read {so_far} of {} bytes for the first record", text.len());
        assert_eq!(records.count(), 100_000);
    }

    #[test]
    fn a_wrapper_cut_short_is_reported() {
        let got = all(b"{\"Records\":[{\"a\":1},{\"b\":");
        assert_eq!(got[0], Ok(Record { line: 1, value: serde_json::json!({"a": 1}) }));
        assert_eq!(got[1], Err("line 1: the Records array is cut short".to_owned()));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_record_named_records_that_is_no_wrapper_stays_whole() {
        let got = all(b"{\"records\":5}\n");
        assert_eq!(got, [Ok(Record { line: 1, value: serde_json::json!({"records": 5}) })]);
    }
}
