//! What a query may ask for, checked before it runs: document size, depth, aliases, directives,
//! and the number of records it could return (GitHub's node count: every connection multiplies
//! what is below it by its page size). The node count is also the query's cost.
use std::collections::HashSet;

use async_graphql::Variables;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Value};

use crate::node::MAX_NODES;
use crate::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// The limits, configurable per deployment.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_depth: usize,
    pub max_nodes: u64,
    pub max_aliases: usize,
    pub max_directives: usize,
    pub max_chars: usize,
    pub max_tokens: usize,
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
        }
    }
}

/// A limit a query went over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub limit: &'static str,
    pub max: u64,
    pub actual: u64,
    pub message: String,
}

/// What a query asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Deepest field nesting, introspection left out.
    pub depth: usize,
    /// The most records the query could return.
    pub nodes: u64,
    /// Rate-limit points the query spends.
    pub cost: u64,
    pub aliases: usize,
    pub directives: usize,
    pub is_mutation: bool,
    /// The query only introspects the schema.
    pub introspection_only: bool,
}

/// Fields that read many rows whatever they return (aggregates), with the records they count as.
const AGGREGATE_WEIGHTS: &[(&str, u64)] = &[
    ("initiativeStats", 500),
    ("needStats", 500),
    ("outcomeSeries", 1_000),
];

/// Points a query spends: one per started hundred records it could return, at least one; a
/// mutation adds ten per change it asks for.
fn cost(nodes: u64, mutations: u64) -> u64 {
    nodes.div_ceil(100).max(1) + 10 * mutations
}

/// Checks the raw document before it is parsed, so a huge one costs nothing to refuse.
pub fn check_size(query: &str, limits: &Limits) -> Result<(), Exceeded> {
    let chars = query.chars().count();
    if chars > limits.max_chars {
        return Err(Exceeded {
            limit: "characters",
            max: limits.max_chars as u64,
            actual: chars as u64,
            message: format!(
                "The query is {chars} characters long; the limit is {}.",
                limits.max_chars
            ),
        });
    }
    let tokens = count_tokens(query, limits.max_tokens + 1);
    if tokens > limits.max_tokens {
        return Err(Exceeded {
            limit: "tokens",
            max: limits.max_tokens as u64,
            actual: tokens as u64,
            message: format!(
                "The query has more than {} tokens (names, values, punctuation).",
                limits.max_tokens
            ),
        });
    }
    Ok(())
}

/// Counts lexical tokens (stopping at `stop`), skipping white space, commas and comments.
fn count_tokens(query: &str, stop: usize) -> usize {
    let bytes = query.as_bytes();
    let mut i = 0;
    let mut count = 0;
    while i < bytes.len() && count < stop {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                count += 1;
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
                count += 1;
                i += 3;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' => {
                count += 1;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
            }
            _ => {
                count += 1;
                i += 1;
            }
        }
    }
    count
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    limits: &'a Limits,
    analysis: Analysis,
    real_fields: usize,
}

/// The page size a list field asks for, or `None` when the field is not a list.
fn multiplier(
    field: &Field,
    selection: &[&SelectionSet],
    doc: &ExecutableDocument,
    variables: &Variables,
) -> Option<u64> {
    let argument = |name: &str| -> Option<Value> {
        field
            .arguments
            .iter()
            .find(|(n, _)| n.node.as_str() == name)
            .map(|(_, v)| {
                v.node
                    .clone()
                    .into_const_with(|var: Name| -> Result<Value, ()> {
                        Ok(variables.get(&var).cloned().unwrap_or(Value::Null))
                    })
                    .unwrap_or(Value::Null)
            })
    };
    let size = |value: Value| -> u64 {
        match value {
            Value::Number(n) => n.as_u64().unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
            Value::Null => DEFAULT_PAGE_SIZE,
            // Anything else is refused by validation; count it at the most.
            _ => MAX_PAGE_SIZE,
        }
    };
    if field.name.node.as_str() == "nodes"
        && let Some(ids) = argument("ids")
    {
        return Some(match ids {
            Value::List(items) => (items.len() as u64).min(MAX_NODES as u64),
            _ => MAX_NODES as u64,
        });
    }
    for name in ["first", "last"] {
        if let Some(value) = argument(name)
            && value != Value::Null
        {
            return Some(size(value));
        }
    }
    // A connection without `first`/`last` returns a default page.
    let mut names = HashSet::new();
    for set in selection {
        collect_names(set, doc, &mut names, 0);
    }
    ["nodes", "edges", "pageInfo", "totalCount"]
        .iter()
        .any(|n| names.contains(*n))
        .then_some(DEFAULT_PAGE_SIZE)
}

fn collect_names<'a>(
    set: &'a SelectionSet,
    doc: &'a ExecutableDocument,
    names: &mut HashSet<&'a str>,
    depth: usize,
) {
    if depth > 16 {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                names.insert(f.node.name.node.as_str());
            }
            Selection::FragmentSpread(s) => {
                if let Some(fragment) = doc.fragments.get(&s.node.fragment_name.node) {
                    collect_names(&fragment.node.selection_set.node, doc, names, depth + 1);
                }
            }
            Selection::InlineFragment(i) => {
                collect_names(&i.node.selection_set.node, doc, names, depth + 1)
            }
        }
    }
}

impl<'a> Walker<'a> {
    fn check_counts(&self) -> Result<(), Exceeded> {
        if self.analysis.aliases > self.limits.max_aliases {
            return Err(Exceeded {
                limit: "aliases",
                max: self.limits.max_aliases as u64,
                actual: self.analysis.aliases as u64,
                message: format!(
                    "The query uses more than {} aliases.",
                    self.limits.max_aliases
                ),
            });
        }
        if self.analysis.directives > self.limits.max_directives {
            return Err(Exceeded {
                limit: "directives",
                max: self.limits.max_directives as u64,
                actual: self.analysis.directives as u64,
                message: format!(
                    "The query uses more than {} directives.",
                    self.limits.max_directives
                ),
            });
        }
        Ok(())
    }

    fn walk(
        &mut self,
        set: &'a SelectionSet,
        depth: usize,
        scale: u64,
        fragments: &mut Vec<&'a str>,
    ) -> Result<(), Exceeded> {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    self.analysis.directives += field.directives.len();
                    if field.alias.is_some() {
                        self.analysis.aliases += 1;
                    }
                    self.check_counts()?;
                    // Introspection answers from the schema, not the database.
                    if name.starts_with("__") {
                        continue;
                    }
                    self.real_fields += 1;
                    let depth = depth + 1;
                    self.analysis.depth = self.analysis.depth.max(depth);
                    if depth > self.limits.max_depth {
                        return Err(Exceeded {
                            limit: "depth",
                            max: self.limits.max_depth as u64,
                            actual: depth as u64,
                            message: format!(
                                "The query nests fields {depth} deep; the limit is {}.",
                                self.limits.max_depth
                            ),
                        });
                    }
                    if let Some((_, weight)) = AGGREGATE_WEIGHTS.iter().find(|(n, _)| *n == name) {
                        self.analysis.nodes = self
                            .analysis
                            .nodes
                            .saturating_add(scale.saturating_mul(*weight));
                    }
                    let sub = [&field.selection_set.node];
                    let scale = match multiplier(field, &sub, self.doc, self.variables) {
                        Some(size) => {
                            let scaled = scale.saturating_mul(size);
                            self.analysis.nodes = self.analysis.nodes.saturating_add(scaled);
                            if self.analysis.nodes > self.limits.max_nodes {
                                return Err(Exceeded {
                                    limit: "nodes",
                                    max: self.limits.max_nodes,
                                    actual: self.analysis.nodes,
                                    message: format!(
                                        "The query could return more than {} records (every list multiplies \
                                         what is below it by its page size); ask for smaller pages or fewer \
                                         nested lists.",
                                        self.limits.max_nodes
                                    ),
                                });
                            }
                            scaled
                        }
                        None => scale,
                    };
                    self.walk(&field.selection_set.node, depth, scale, fragments)?;
                }
                Selection::FragmentSpread(spread) => {
                    self.analysis.directives += spread.node.directives.len();
                    self.check_counts()?;
                    let name = spread.node.fragment_name.node.as_str();
                    // A fragment that spreads itself is refused by validation; never loop here.
                    if fragments.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.doc.fragments.get(&spread.node.fragment_name.node)
                    {
                        self.analysis.directives += fragment.node.directives.len();
                        fragments.push(name);
                        self.walk(&fragment.node.selection_set.node, depth, scale, fragments)?;
                        fragments.pop();
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.analysis.directives += inline.node.directives.len();
                    self.check_counts()?;
                    self.walk(&inline.node.selection_set.node, depth, scale, fragments)?;
                }
            }
        }
        Ok(())
    }
}

/// Measures the operation a request runs against the limits.
pub fn analyze(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    limits: &Limits,
) -> Result<Analysis, Exceeded> {
    let operation = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    };
    // An unknown or ambiguous operation is left to the executor's own error.
    let Some(operation) = operation else {
        return Ok(Analysis::default());
    };
    let mut walker = Walker {
        doc,
        variables,
        limits,
        analysis: Analysis {
            is_mutation: operation.node.ty == OperationType::Mutation,
            directives: operation.node.directives.len(),
            ..Analysis::default()
        },
        real_fields: 0,
    };
    walker.walk(&operation.node.selection_set.node, 0, 1, &mut Vec::new())?;
    let mutations = if walker.analysis.is_mutation {
        operation.node.selection_set.node.items.len() as u64
    } else {
        0
    };
    walker.analysis.introspection_only = walker.real_fields == 0;
    walker.analysis.cost = cost(walker.analysis.nodes, mutations);
    Ok(walker.analysis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(query: &str) -> Result<Analysis, Exceeded> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        analyze(&doc, None, &Variables::default(), &Limits::default())
    }

    #[test]
    fn counts_nodes_through_nested_connections() {
        let a = measure("{ initiatives(first: 10) { nodes { themes { nodes { code } } outcomes(first: 5) { nodes { value } } } } }").unwrap();
        assert_eq!(a.nodes, 10 + 10 * 20 + 10 * 5);
        assert_eq!(a.cost, 3);
        assert_eq!(a.depth, 5);
        let b = measure("query { nodes(ids: [\"a\", \"b\"]) { id } }").unwrap();
        assert_eq!(b.nodes, 2);
        assert_eq!(b.cost, 1);
    }

    #[test]
    fn variables_and_fragments_count() {
        let doc = async_graphql::parser::parse_query(
            "query($n: Int) { ...F } fragment F on Query { needs(first: $n) { totalCount } }",
        )
        .unwrap();
        let vars = Variables::from_json(serde_json::json!({"n": 50}));
        assert_eq!(
            analyze(&doc, None, &vars, &Limits::default())
                .unwrap()
                .nodes,
            50
        );
    }

    #[test]
    fn refuses_over_the_limits() {
        let deep = format!(
            "{{ areas {{ nodes {{ {} id {} }} }} }}",
            "parent { ".repeat(11),
            "} ".repeat(11)
        );
        assert_eq!(measure(&deep).unwrap_err().limit, "depth");
        let wide = "{ a: initiatives(first: 100) { nodes { b: needs(first: 100) { nodes { c: initiatives(first: 100) { nodes { id } } } } } } }";
        assert_eq!(measure(wide).unwrap_err().limit, "nodes");
        let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
        assert_eq!(
            measure(&format!("{{ {aliases} }}")).unwrap_err().limit,
            "aliases"
        );
        let directives = "{ __typename @skip(if: false) }"
            .replace("@skip(if: false)", &"@skip(if: false) ".repeat(31));
        assert_eq!(measure(&directives).unwrap_err().limit, "directives");
    }

    #[test]
    fn introspection_is_free_of_depth_and_cost() {
        let nested = format!(
            "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
            "ofType { ".repeat(12),
            "} ".repeat(12)
        );
        let a = measure(&nested).unwrap();
        assert!(a.introspection_only);
        assert_eq!(a.depth, 0);
    }

    #[test]
    fn counts_tokens() {
        assert_eq!(
            count_tokens("{ a(b: \"x, y\") { ...F } } # comment", 100),
            12
        );
        assert!(check_size(&"{ a }".repeat(5000), &Limits::default()).is_err());
    }
}
