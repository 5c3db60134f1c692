//! The names events are stored, filtered and grouped by (id, project, category, module, action,
//! actor and target ids, trace id), each a type that only its own rule can make: a `NewEvent`
//! holding a `Project` holds a project name that was checked, wherever it was built.

use serde::Serialize;

use crate::limits;

/// Defines a name newtype: `parse` applies `$rule`, which says what is wrong in words that
/// follow the field's name ("project: must not be empty").
macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $rule:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `value` against this name's rule; the error says why it was refused.
            pub fn parse(value: impl Into<String>) -> Result<$name, String> {
                let value = value.into();
                let rule: fn(&str) -> Result<(), String> = $rule;
                rule(&value)?;
                Ok($name(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }
    };
}

name_type!(
    /// A client-chosen event id, the idempotency key: it appears in URL paths, so a leading
    /// letter or digit rules out `.` and `..`, and `export` is the export endpoint's own segment.
    EventId,
    |id| {
        let ok = id.len() <= limits::ID_MAX
            && id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
            && id != "export";
        if ok {
            Ok(())
        } else {
            Err(format!(
                "must be 1 to {} characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit, and not \"export\"",
                limits::ID_MAX
            ))
        }
    }
);

name_type!(
    /// A project name. Names that only look like the reserved `auditrail` are refused outright
    /// (`auditrail` itself parses: ingest refuses it for clients, only Auditrail writes its trail).
    Project,
    |value| {
        identifier(value)?;
        if value != crate::TRAIL_PROJECT && skeleton(value) == crate::TRAIL_PROJECT {
            return Err(format!("{value:?} is too like the reserved project {}", crate::TRAIL_PROJECT));
        }
        Ok(())
    }
);

name_type!(
    /// Our own small taxonomy: `activity`, `access`, `webhook_failure`.
    Category,
    word
);

name_type!(
    /// The part of the source system that acted: `Login`, `Campaigns`.
    Module,
    identifier
);

name_type!(
    /// What was done, in the source system's own words and kept verbatim: `create`,
    /// `user.session.start`, `GetObject`, `Microsoft.Insights/actionGroups/delete`, `DELETE_ROLE`.
    Action,
    identifier
);

name_type!(
    /// An actor id, target type or id, or trace id. These run longer than names: an AWS ARN
    /// or an Azure resource id is often past 200 characters.
    Identifier,
    |value| bounded_identifier(value, limits::REFERENCE_MAX)
);

/// How a name reads on screen, for comparing it with the reserved project: lower-cased, with
/// full-width forms and the Cyrillic and Greek letters that are drawn like Latin ones mapped to
/// those (`аuditrail` with a Cyrillic `а`, `ａｕｄｉｔｒａｉｌ`), and `1`/`I`/`|` read as `l`.
fn skeleton(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            // Full-width ASCII: the same letters, wider.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'а' | 'ɑ' | 'α' => 'a',
            'υ' | 'ս' | 'ʋ' => 'u',
            'ԁ' | 'ɗ' => 'd',
            'і' | 'ı' | 'ι' | 'ɩ' | 'ί' | 'ï' | 'ì' | 'í' => 'i',
            'τ' | 'т' => 't',
            'г' | 'ɼ' => 'r',
            'ӏ' | '1' | '|' | 'ℓ' | 'ł' => 'l',
            other => other,
        })
        .collect()
}

/// Formatting characters that show as nothing, or reorder the text around them: two names
/// that differ only in these look the same on screen (`audit\u{200B}rail`, a right-to-left
/// override), so no identifier may hold them.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A name that means what it shows: not empty, no leading or trailing whitespace, no control,
/// invisible or bidirectional formatting characters, at most [`limits::SHORT_MAX`] characters.
fn identifier(value: &str) -> Result<(), String> {
    bounded_identifier(value, limits::SHORT_MAX)
}

/// [`identifier`]'s rule with its own length limit.
fn bounded_identifier(value: &str, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.trim() != value {
        return Err("must not start or end with whitespace".into());
    }
    if value.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(
            "must not contain control, invisible or bidirectional formatting characters".into()
        );
    }
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(())
}

/// Where a request came from: an IP address, stored in its standard text form, or what some
/// systems write instead, kept as written (`ec2.amazonaws.com` for a call an AWS service made,
/// `AWS Internal`) under the identifier rule, so the value stays visible and filterable.
pub fn source_address(value: &str) -> Result<String, String> {
    if let Ok(ip) = value.parse::<std::net::IpAddr>() {
        return Ok(ip.to_string());
    }
    identifier(value).map_err(|why| format!("must be an IP address or a host name: it {why}"))?;
    Ok(value.to_owned())
}

/// A lower-case word: `create`, `webhook_failure`.
fn word(value: &str) -> Result<(), String> {
    let ok = value.len() <= limits::SHORT_MAX
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { Ok(()) } else { Err("must be a lower-case word (a-z, 0-9, _), e.g. \"create\"".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_refuse_hidden_characters_and_edges() {
        for bad in ["", " ", " shop", "shop ", "sh\u{200B}op", "shop\u{202E}", "\u{FEFF}shop"] {
            assert!(Module::parse(bad).is_err(), "{bad:?}");
            assert!(Identifier::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Module::parse("x".repeat(limits::SHORT_MAX + 1)).is_err());
        assert_eq!(Module::parse("Shop Floor / Ünïcode").unwrap().as_str(), "Shop Floor / Ünïcode");
    }

    #[test]
    fn project_refuses_look_alikes_of_the_trail() {
        for bad in [
            "Auditrail",
            "AUDITRAIL",
            "auditrail ",
            "audit\u{200B}rail",
            "\u{0430}uditrail",
            "aud\u{0456}trail",
            "\u{FF41}\u{FF55}\u{FF44}\u{FF49}\u{FF54}\u{FF52}\u{FF41}\u{FF49}\u{FF4C}",
            "auditrai1",
            "AUDITRAIl",
        ] {
            assert!(Project::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Project::parse(crate::TRAIL_PROJECT).is_ok());
        assert!(Project::parse("auditrails").is_ok());
    }

    #[test]
    fn event_ids_cannot_be_path_segments_of_their_own() {
        for bad in ["..", ".x", "export", "has space", "a/b"] {
            assert!(EventId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(EventId::parse("ord-1:2.x_y").is_ok());
    }
}
