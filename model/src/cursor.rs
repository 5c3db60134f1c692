//! The keyset cursor: an opaque token for "continue after this row".

use std::fmt;
use std::str::FromStr;

/// Position in the newest-first listing: the storage sort key of the last row of a page, and a
/// tag with which the server binds the cursor to the reader and filter it was issued for
/// (storage leaves it 0). Clients treat it as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cursor {
    pub key: i64,
    pub tag: u64,
}

impl Cursor {
    /// A cursor after `key`, not yet bound to anyone.
    pub fn after(key: i64) -> Cursor {
        Cursor { key, tag: 0 }
    }
}

const MALFORMED: &str = "cursor must be a token returned as next_cursor";

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hex of the raw bits keeps the token short and URL-safe without an encoding crate.
        write!(f, "{:016x}{:016x}", self.key as u64, self.tag)
    }
}

impl FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MALFORMED.into());
        }
        let (key, tag) = s.split_at(16);
        let hex = |part: &str| u64::from_str_radix(part, 16).map_err(|_| MALFORMED.to_owned());
        Ok(Cursor { key: hex(key)? as i64, tag: hex(tag)? })
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
            let c = Cursor { key, tag: u64::MAX - 7 };
            assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!("zz".parse::<Cursor>().is_err());
        assert!("zzzzzzzzzzzzzzzz".parse::<Cursor>().is_err());
        assert!("00000000000000010000000000000001".parse::<Cursor>().is_ok());
        assert!("0000000000000001000000000000000g".parse::<Cursor>().is_err());
        assert!("000000000000000100000000000000é".parse::<Cursor>().is_err());
    }
}
