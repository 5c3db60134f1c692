//! The keyset cursor: an opaque token for "continue after this row".

use std::fmt;
use std::str::FromStr;

/// Position in the newest-first listing. Wraps the storage sort key of the last row of a page;
/// clients treat it as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cursor(pub i64);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hex of the raw bits keeps the token short and URL-safe without an encoding crate.
        write!(f, "{:016x}", self.0 as u64)
    }
}

impl FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err("cursor must be a token returned as next_cursor".into());
        }
        u64::from_str_radix(s, 16)
            .map(|bits| Cursor(bits as i64))
            .map_err(|_| "cursor must be a token returned as next_cursor".into())
    }
}

impl TryFrom<String> for Cursor {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Cursor> for String {
    fn from(c: Cursor) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_negative_and_positive_keys() {
        for key in [i64::MIN, -1, 0, 1, 1_800_000_000_000_000 << 10] {
            let c = Cursor(key);
            assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!("zz".parse::<Cursor>().is_err());
        assert!("zzzzzzzzzzzzzzzz".parse::<Cursor>().is_err());
    }
}
