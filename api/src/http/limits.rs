//! What a request may ask for, and the checks that run on its raw text before any parser or
//! other recursive code sees it: the document's length, tokens and bracket nesting, and the
//! nesting of JSON values (request bodies, `variables`, `extensions`).
//!
//! Bounding nesting before parsing is what keeps the recursive-descent parsers (the GraphQL
//! parser, serde's JSON, and every walk over their trees) within a worker's stack: a stack
//! overflow cannot be caught and would take the whole process down.

/// The limits, configurable per deployment.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest field nesting (`__typename` and introspection's `ofType` do not count).
    pub max_depth: usize,
    /// Most records (and introspection objects) a query could return.
    pub max_nodes: u64,
    pub max_aliases: usize,
    pub max_directives: usize,
    pub max_chars: usize,
    pub max_tokens: usize,
    /// Deepest nesting of brackets in a document, of lists and objects in a JSON value, and of
    /// selections and fragment spreads once fragments are followed.
    pub max_nesting: usize,
    /// Most field selections once every fragment is spread in place.
    pub max_fields: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_nodes: 50_000,
            max_aliases: 30,
            max_directives: 30,
            max_chars: 20_000,
            max_tokens: 5_000,
            max_nesting: 32,
            max_fields: 5_000,
        }
    }
}

/// Nested `fields`, `interfaces`, `possibleTypes` and `inputFields` an introspection query may
/// hold: graphql-js's `MaxIntrospectionDepthRule` refuses three, and the standard introspection
/// queries (GraphiQL, graphql-js, Apollo, graphql-codegen) need one.
pub const MAX_INTROSPECTION_LISTS: usize = 2;

/// A limit a request went over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub limit: &'static str,
    pub max: u64,
    pub actual: u64,
    pub message: String,
}

impl Exceeded {
    pub fn new(limit: &'static str, max: u64, actual: u64, message: String) -> Self {
        Self {
            limit,
            max,
            actual,
            message,
        }
    }

    fn nesting(max: usize, actual: usize, what: &str) -> Self {
        Self::new(
            "nesting",
            max as u64,
            actual as u64,
            format!("{what} nests brackets more than {max} deep."),
        )
    }
}

/// Checks the raw document before it is parsed, so a huge or deeply nested one costs nothing
/// to refuse and never reaches the parser.
pub fn check_document(query: &str, limits: &Limits) -> Result<(), Exceeded> {
    let chars = query.chars().count();
    if chars > limits.max_chars {
        return Err(Exceeded::new(
            "characters",
            limits.max_chars as u64,
            chars as u64,
            format!(
                "The query is {chars} characters long; the limit is {}.",
                limits.max_chars
            ),
        ));
    }
    let scan = scan_document(query, limits.max_tokens + 1, limits.max_nesting + 1);
    if scan.tokens > limits.max_tokens {
        return Err(Exceeded::new(
            "tokens",
            limits.max_tokens as u64,
            scan.tokens as u64,
            format!(
                "The query has more than {} tokens (names, values, punctuation).",
                limits.max_tokens
            ),
        ));
    }
    if scan.nesting > limits.max_nesting {
        return Err(Exceeded::nesting(
            limits.max_nesting,
            scan.nesting,
            "The query",
        ));
    }
    Ok(())
}

/// What one pass over a document found, up to the given stops.
#[derive(Debug, Default, PartialEq, Eq)]
struct Scan {
    tokens: usize,
    /// Deepest nesting of `{`, `[` and `(`.
    nesting: usize,
}

/// Counts lexical tokens and bracket nesting, skipping white space, commas, comments and the
/// insides of strings; stops once either reaches its stop.
fn scan_document(query: &str, stop_tokens: usize, stop_nesting: usize) -> Scan {
    let bytes = query.as_bytes();
    let mut i = 0;
    let mut scan = Scan::default();
    let mut open = 0usize;
    while i < bytes.len() && scan.tokens < stop_tokens && scan.nesting < stop_nesting {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                scan.tokens += 1;
                if bytes[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 3;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                scan.tokens += 1;
                i += 3;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                scan.tokens += 1;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
            }
            c => {
                scan.tokens += 1;
                match c {
                    b'{' | b'[' | b'(' => {
                        open += 1;
                        scan.nesting = scan.nesting.max(open);
                    }
                    b'}' | b']' | b')' => open = open.saturating_sub(1),
                    _ => {}
                }
                i += 1;
            }
        }
    }
    scan
}

/// Checks that a JSON text nests its arrays and objects at most `max` deep, before it is
/// parsed. `what` names it in the message ("The request body", "`variables`").
pub fn check_json_nesting(json: &[u8], max: usize, what: &str) -> Result<(), Exceeded> {
    let deepest = json_nesting(json, max + 1);
    if deepest > max {
        return Err(Exceeded::nesting(max, deepest, what));
    }
    Ok(())
}

/// The deepest nesting of `[` and `{` outside strings, counted up to `stop`.
fn json_nesting(json: &[u8], stop: usize) -> usize {
    let mut open = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                open += 1;
                deepest = deepest.max(open);
                if deepest >= stop {
                    break;
                }
            }
            b']' | b'}' => open = open.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tokens_and_nesting() {
        assert_eq!(
            scan_document("{ a(b: \"x, y\") { ...F } } # comment", 100, 100),
            Scan {
                tokens: 12,
                nesting: 2
            }
        );
        // Brackets inside strings, block strings and comments do not nest.
        assert_eq!(
            scan_document("{ a(b: \"[[[{\", c: \"\"\"{{{\"\"\") } # [[[", 100, 100).nesting,
            2
        );
        assert!(check_document(&"{ a }".repeat(5000), &Limits::default()).is_err());
    }

    #[test]
    fn refuses_deep_nesting_of_every_bracket_kind() {
        let limits = Limits::default();
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let at = |depth: usize| {
                // One level for the operation's braces and one for the argument list.
                let inner = depth - 2;
                format!("{{ f(x: {}1{}) }}", open.repeat(inner), close.repeat(inner))
            };
            assert!(check_document(&at(32), &limits).is_ok(), "{open} 32");
            let refused = check_document(&at(33), &limits).unwrap_err();
            assert_eq!(refused.limit, "nesting", "{open} 33");
            assert_eq!(refused.actual, 33);
        }
        let selections = |depth: usize| {
            format!(
                "{{ {} id {} }}",
                "a { ".repeat(depth - 1),
                "} ".repeat(depth - 1)
            )
        };
        assert!(check_document(&selections(32), &limits).is_ok());
        assert_eq!(
            check_document(&selections(33), &limits).unwrap_err().limit,
            "nesting"
        );
        // Far past the limit the scan stops early.
        let deep = format!("{{ f(x: {}) }}", "[".repeat(10_000));
        assert_eq!(check_document(&deep, &limits).unwrap_err().limit, "nesting");
    }

    #[test]
    fn measures_json_nesting_outside_strings() {
        assert_eq!(json_nesting(br#"{"a": [1, {"b": "[[[{{"}]}"#, 100), 3);
        assert_eq!(json_nesting(br#"{"a": "\"[[", "b": [[]]}"#, 100), 3);
        assert_eq!(json_nesting(&[b'['; 10_000], 33), 33);
        assert!(check_json_nesting(&[b'['; 32], 32, "`variables`").is_ok());
        assert_eq!(
            check_json_nesting(&[b'['; 33], 32, "`variables`")
                .unwrap_err()
                .limit,
            "nesting"
        );
    }
}
