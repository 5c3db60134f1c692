//! System messages: Auditrail's own operational errors, and those applications post, shown on
//! the Messages page. The same message again (same category, module and text) is one row whose
//! count and last-seen time grow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::{EventError, limits, text};

/// The JSON metadata a message may carry, at most this big once serialised.
pub const MESSAGE_METADATA_MAX_BYTES: usize = 16 * 1024;

/// A message as posted, checked by [`NewMessage::from_json`] or built by the server itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub category: String,
    pub module: String,
    pub message: String,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub error: Option<String>,
}

impl NewMessage {
    pub fn new(category: &str, module: &str, message: impl Into<String>) -> NewMessage {
        NewMessage {
            category: category.to_owned(),
            module: module.to_owned(),
            message: message.into(),
            metadata: None,
            error: None,
        }
    }

    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> NewMessage {
        self.metadata.get_or_insert_with(Map::new).insert(key.to_owned(), value.into());
        self
    }

    pub fn error(mut self, error: impl Into<String>) -> NewMessage {
        self.error = Some(error.into());
        self
    }

    /// Made fit to store, for messages the server writes from what it ran into (a client's
    /// error text may hold anything): control characters become spaces, fields are cut to
    /// their limits, metadata beyond [`MESSAGE_METADATA_MAX_BYTES`] is left out.
    pub fn fitted(self) -> NewMessage {
        let fit = |value: String, max: usize, multiline: bool| -> String {
            let clean = |c: char| {
                if c.is_control() && !(multiline && matches!(c, '\n' | '\t')) { ' ' } else { c }
            };
            let fitted: String = value.chars().map(clean).take(max).collect();
            if fitted.trim().is_empty() { "(none)".to_owned() } else { fitted }
        };
        let metadata = self
            .metadata
            .filter(|m| serde_json::to_vec(m).is_ok_and(|v| v.len() <= MESSAGE_METADATA_MAX_BYTES));
        NewMessage {
            category: fit(self.category, limits::SHORT_MAX, false),
            module: fit(self.module, limits::SHORT_MAX, false),
            message: fit(self.message, limits::TEXT_MAX, true),
            metadata,
            error: self.error.map(|e| fit(e, limits::ERROR_MAX, true)),
        }
    }

    /// Reads and checks a posted message; the error names the field.
    pub fn from_json(raw: &[u8]) -> Result<NewMessage, EventError> {
        let message: NewMessage = serde_json::from_slice(raw).map_err(|e| EventError {
            field: "body".into(),
            message: format!(
                "{e}; send {{\"category\", \"module\", \"message\", \"metadata\"?, \"error\"?}}"
            ),
        })?;
        message.checked()
    }

    /// Refuses what cannot be shown or stored: blank or over-long names, control characters in
    /// one-line fields, metadata beyond [`MESSAGE_METADATA_MAX_BYTES`].
    pub fn checked(self) -> Result<NewMessage, EventError> {
        let line = |field: &str, value: String, max: usize| {
            if value.trim().is_empty() {
                return Err(EventError {
                    field: field.into(),
                    message: "must not be empty".into(),
                });
            }
            text(field, value, max, false)
        };
        let metadata = match self.metadata {
            Some(map) => {
                let size = serde_json::to_vec(&map).map(|v| v.len()).unwrap_or(usize::MAX);
                if size > MESSAGE_METADATA_MAX_BYTES {
                    return Err(EventError {
                        field: "metadata".into(),
                        message: format!(
                            "must be at most {MESSAGE_METADATA_MAX_BYTES} bytes as JSON"
                        ),
                    });
                }
                Some(map).filter(|m| !m.is_empty())
            }
            None => None,
        };
        Ok(NewMessage {
            category: line("category", self.category, limits::SHORT_MAX)?,
            module: line("module", self.module, limits::SHORT_MAX)?,
            message: text("message", self.message, limits::TEXT_MAX, true).and_then(|m| {
                if m.trim().is_empty() {
                    Err(EventError { field: "message".into(), message: "must not be empty".into() })
                } else {
                    Ok(m)
                }
            })?,
            metadata,
            error: self
                .error
                .filter(|e| !e.is_empty())
                .map(|e| text("error", e, limits::ERROR_MAX, true))
                .transpose()?,
        })
    }
}

/// A stored message with its repeat count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMessage {
    pub id: String,
    pub category: String,
    pub module: String,
    pub message: String,
    pub metadata: Option<Map<String, Value>>,
    /// The error of the latest occurrence.
    pub error: Option<String>,
    pub count: u64,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// Marked read since it was last seen: a repeat makes it unread again.
    pub read: bool,
}

/// One page of messages, most recently seen first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePage {
    pub messages: Vec<SystemMessage>,
    /// Unread messages in all, not only on this page.
    pub unread: u64,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fitted_message_passes_the_checks() {
        let wild = NewMessage::new("ingest", "api", "Refused \u{0}events")
            .error(format!("unknown field `\u{0}{}`", "x".repeat(limits::ERROR_MAX)))
            .meta("big", "y".repeat(MESSAGE_METADATA_MAX_BYTES));
        let fitted = wild.fitted();
        assert_eq!(fitted.message, "Refused  events");
        assert_eq!(fitted.error.as_ref().unwrap().chars().count(), limits::ERROR_MAX);
        assert_eq!(fitted.metadata, None);
        assert_eq!(fitted.clone().checked().unwrap(), fitted);
    }

    #[test]
    fn a_message_is_checked_field_by_field() {
        let ok = NewMessage::from_json(br#"{"category":"export","module":"jobs","message":"x"}"#);
        assert_eq!(ok.unwrap().metadata, None);
        let blank = NewMessage::from_json(br#"{"category":" ","module":"m","message":"x"}"#);
        assert_eq!(blank.unwrap_err().to_string(), "category: must not be empty");
        let unknown =
            NewMessage::from_json(br#"{"category":"c","module":"m","message":"x","level":1}"#);
        assert!(unknown.unwrap_err().to_string().contains("unknown field `level`"));
        let big = format!(
            r#"{{"category":"c","module":"m","message":"x","metadata":{{"k":"{}"}}}}"#,
            "a".repeat(MESSAGE_METADATA_MAX_BYTES)
        );
        assert_eq!(NewMessage::from_json(big.as_bytes()).unwrap_err().field, "metadata");
        let control = NewMessage::from_json(
            b"{\"category\":\"c\",\"module\":\"m\\u0007\",\"message\":\"x\"}",
        );
        assert_eq!(control.unwrap_err().to_string(), "module: must not contain control characters");
    }
}
