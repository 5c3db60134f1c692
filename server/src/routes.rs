//! Which routes need a signed-in person: every one but those listed here, so a new page or
//! server function is private until someone decides otherwise, in this one place.

/// Built assets: public, and the only responses browsers may cache.
pub fn is_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg"
}

/// Reachable without a session: the assets, the sign-in page and form, signing out (which
/// answers a visitor without a session by sending them to sign in), the page's question "who
/// is signed in" (answered "nobody"), and the REST API, whose endpoints check API keys.
pub fn is_public(path: &str) -> bool {
    is_asset(path)
        || matches!(path, "/sign-in" | "/sign-out" | "/ui/account" | "/api/v1")
        || path.starts_with("/api/v1/")
}

/// A path the router might read differently from the gate: a `.` or `..` segment (also
/// percent-encoded, which URL normalisation turns back into one), or an encoded `/` or `\`.
/// Such requests are refused before any route decision.
pub fn is_ambiguous(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains('\\')
        || lower.split('/').any(|segment| {
            let decoded = segment.replace("%2e", ".");
            decoded == "." || decoded == ".."
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_routes_are_public() {
        for public in ["/sign-in", "/pkg/auditrail.wasm", "/favicon.svg", "/api/v1/events"] {
            assert!(is_public(public), "{public}");
        }
        for private in [
            "/",
            "/export",
            "/events/1",
            "/admin/users",
            "/ui/events",
            "/new-page",
            "/api/v2",
            "/sign-in/x",
        ] {
            assert!(!is_public(private), "{private}");
        }
    }

    #[test]
    fn dot_segments_and_encoded_separators_are_ambiguous() {
        for bad in [
            "/pkg/../admin/users",
            "/pkg/%2e%2e/admin/users",
            "/pkg/%2E./admin",
            "/pkg/./x",
            "/pkg/..%2fadmin",
            "/pkg/x%5c..",
            "/pkg\\..\\admin",
        ] {
            assert!(is_ambiguous(bad), "{bad}");
        }
        for fine in ["/", "/events/01KB.x", "/pkg/auditrail.wasm", "/a..b/c", "/sign-in"] {
            assert!(!is_ambiguous(fine), "{fine}");
        }
    }
}
