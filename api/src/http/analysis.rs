//! What a parsed operation asks for, measured before it runs: depth, aliases, directives, the
//! fields it selects once fragments are spread in place, and the records it could return
//! (GitHub's node count: every list multiplies what is below it by its page size, taken from
//! the variables in force). Introspection counts the objects it would really return.
//!
//! Each fragment is measured once and its measure reused wherever it is spread, so the work is
//! linear in the document's length however the fragments fan out; every recursion here is
//! bounded by the nesting limit.
use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    Directive, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, Positioned, Value, Variables};
use async_graphql_value::Value as Literal;

use super::introspection::{Counter, SchemaShape};
use super::limits::{Exceeded, Limits, MAX_INTROSPECTION_LISTS};
use crate::domain::node::MAX_NODES;
use crate::graphql::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// What a query asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Deepest field nesting.
    pub depth: usize,
    /// The most records and introspection objects the query could return.
    pub nodes: u64,
    /// Rate-limit points the query spends.
    pub cost: u64,
    pub aliases: u64,
    pub directives: u64,
    /// Field selections once fragments are spread in place.
    pub fields: u64,
    pub is_mutation: bool,
    /// The query only introspects the schema.
    pub introspection_only: bool,
    /// The answer depends on who asks (it selects `viewer` or `rateLimit`).
    pub caller_specific: bool,
}

/// Fields whose answer depends on the caller, not only on the data.
const CALLER_FIELDS: &[&str] = &["viewer", "rateLimit"];

/// Fields that read many rows whatever they return (aggregates), with the records they count as.
const AGGREGATE_WEIGHTS: &[(&str, u64)] = &[
    ("initiativeStats", 500),
    ("needStats", 500),
    ("outcomeSeries", 1_000),
];

/// Fields that make a selection a connection (whose default page is then counted).
const PAGE_FIELDS: &[&str] = &["nodes", "edges", "pageInfo", "totalCount"];

/// Introspection fields that list types or fields: graphql-js's introspection depth rule
/// counts their nesting.
const TYPE_LISTS: &[&str] = &["fields", "interfaces", "possibleTypes", "inputFields"];

/// Selections the introspection counter may visit per request (its own work bound).
const INTROSPECTION_STEPS: u64 = 1_000_000;

/// Points a query spends: one per started hundred records it could return and one per
/// started thousand introspection objects (answered from memory), at least one; a mutation
/// adds ten per change it asks for.
fn cost(records: u64, introspection: u64, mutations: u64) -> u64 {
    (records.div_ceil(100) + introspection.div_ceil(1000)).max(1) + 10 * mutations
}

/// The measure of a selection set, relative to where it stands.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    depth: usize,
    /// Selection sets and fragment spreads nested, once fragments are followed.
    nesting: usize,
    /// Nested introspection type lists (`fields`, `interfaces`…).
    type_lists: usize,
    /// Records it could return, per record of its parent.
    records: u64,
    /// Introspection objects it would return, per record of its parent.
    introspection: u64,
    aliases: u64,
    directives: u64,
    fields: u64,
    data_fields: u64,
    /// It selects a connection's fields directly.
    page_fields: bool,
    /// It selects a field whose answer depends on the caller.
    caller_specific: bool,
}

impl Summary {
    /// Siblings: counts add up, depths take the deeper.
    fn and(self, other: Summary) -> Summary {
        Summary {
            depth: self.depth.max(other.depth),
            nesting: self.nesting.max(other.nesting),
            type_lists: self.type_lists.max(other.type_lists),
            records: self.records.saturating_add(other.records),
            introspection: self.introspection.saturating_add(other.introspection),
            aliases: self.aliases.saturating_add(other.aliases),
            directives: self.directives.saturating_add(other.directives),
            fields: self.fields.saturating_add(other.fields),
            data_fields: self.data_fields.saturating_add(other.data_fields),
            page_fields: self.page_fields || other.page_fields,
            caller_specific: self.caller_specific || other.caller_specific,
        }
    }
}

/// The values of the operation's variables in force: those given, else their defaults.
pub fn effective_variables(
    operation: Option<&OperationDefinition>,
    given: &Variables,
) -> Variables {
    let mut variables = given.clone();
    if let Some(operation) = operation {
        for definition in &operation.variable_definitions {
            let name = &definition.node.name.node;
            if !variables.contains_key(name)
                && let Some(default) = &definition.node.default_value
            {
                variables.insert(name.clone(), default.node.clone());
            }
        }
    }
    variables
}

struct Analyzer<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    limits: &'a Limits,
    shape: &'a SchemaShape,
    fragments: HashMap<&'a str, Summary>,
    in_progress: HashSet<&'a str>,
    level: usize,
    introspection_steps: u64,
}

impl<'a> Analyzer<'a> {
    /// Enters one level of recursion; refuses past the nesting limit, so no walk here (nor,
    /// later, the executor's) recurses deeper than the limit allows.
    fn enter(&mut self) -> Result<(), Exceeded> {
        self.level += 1;
        if self.level > self.limits.max_nesting {
            return Err(Exceeded::new(
                "nesting",
                self.limits.max_nesting as u64,
                self.level as u64,
                format!(
                    "The query nests selections and fragment spreads more than {} deep.",
                    self.limits.max_nesting
                ),
            ));
        }
        Ok(())
    }

    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        introspection: bool,
    ) -> Result<Summary, Exceeded> {
        self.enter()?;
        let mut total = Summary::default();
        for item in &set.items {
            let part = match &item.node {
                Selection::Field(field) => self.field(&field.node, introspection)?,
                Selection::FragmentSpread(spread) => {
                    let mut part = self.fragment(&spread.node.fragment_name.node)?;
                    part.directives = part
                        .directives
                        .saturating_add(spread.node.directives.len() as u64);
                    part.nesting += 1;
                    part
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let introspection = introspection
                        || inline
                            .type_condition
                            .as_ref()
                            .is_some_and(|c| c.node.on.node.starts_with("__"));
                    let mut part = self.selection_set(&inline.selection_set.node, introspection)?;
                    part.directives = part
                        .directives
                        .saturating_add(inline.directives.len() as u64);
                    part.nesting += 1;
                    part
                }
            };
            total = total.and(part);
        }
        self.level -= 1;
        Ok(total)
    }

    /// A fragment's measure, computed once.
    fn fragment(&mut self, name: &'a Name) -> Result<Summary, Exceeded> {
        if let Some(summary) = self.fragments.get(name.as_str()) {
            return Ok(*summary);
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            // Unknown fragments are refused by validation.
            return Ok(Summary::default());
        };
        // A fragment that spreads itself is refused by validation; never loop here.
        if !self.in_progress.insert(name.as_str()) {
            return Ok(Summary::default());
        }
        let fragment = &fragment.node;
        let introspection = fragment.type_condition.node.on.node.starts_with("__");
        let mut summary = self.selection_set(&fragment.selection_set.node, introspection)?;
        summary.directives = summary
            .directives
            .saturating_add(fragment.directives.len() as u64);
        self.in_progress.remove(name.as_str());
        self.fragments.insert(name.as_str(), summary);
        Ok(summary)
    }

    fn field(&mut self, field: &'a Field, introspection: bool) -> Result<Summary, Exceeded> {
        let name = field.name.node.as_str();
        let root_introspection = name == "__schema" || name == "__type";
        let inside = introspection || root_introspection;
        let child = if field.selection_set.node.items.is_empty() {
            Summary::default()
        } else {
            self.selection_set(&field.selection_set.node, inside)?
        };
        let mut part = Summary {
            aliases: child.aliases + u64::from(field.alias.is_some()),
            directives: child
                .directives
                .saturating_add(field.directives.len() as u64),
            fields: child.fields.saturating_add(1),
            nesting: if field.selection_set.node.items.is_empty() {
                0
            } else {
                child.nesting + 1
            },
            page_fields: PAGE_FIELDS.contains(&name),
            caller_specific: child.caller_specific || CALLER_FIELDS.contains(&name),
            ..Summary::default()
        };
        // `__typename` is answered without a resolver, and `ofType` unwraps one type
        // reference (`NON_NULL`, `LIST`): neither is a level of the answer.
        let adds_depth = name != "__typename" && !(introspection && name == "ofType");
        part.depth = child.depth + usize::from(adds_depth);
        if inside || name == "__typename" {
            part.type_lists =
                child.type_lists + usize::from(introspection && TYPE_LISTS.contains(&name));
            part.introspection = if root_introspection {
                self.introspection_objects(field)?
            } else {
                child.introspection
            };
            return Ok(part);
        }
        part.data_fields = child.data_fields.saturating_add(1);
        part.type_lists = child.type_lists;
        if let Some((_, weight)) = AGGREGATE_WEIGHTS.iter().find(|(n, _)| *n == name) {
            part.records = *weight;
        }
        match self.page_size(field, child.page_fields) {
            Some(size) => {
                part.records = part
                    .records
                    .saturating_add(size)
                    .saturating_add(size.saturating_mul(child.records));
                part.introspection = size.saturating_mul(child.introspection);
            }
            None => {
                part.records = part.records.saturating_add(child.records);
                part.introspection = child.introspection;
            }
        }
        Ok(part)
    }

    fn introspection_objects(&mut self, field: &'a Field) -> Result<u64, Exceeded> {
        let max = self.limits.max_nodes;
        let counter = Counter::new(
            self.shape,
            self.doc,
            self.variables,
            max,
            self.introspection_steps,
        );
        match counter.root(field) {
            Ok((objects, steps_left)) => {
                self.introspection_steps = steps_left;
                Ok(objects)
            }
            Err(too_large) => Err(Exceeded::new(
                "nodes",
                max,
                too_large.counted.max(max + 1),
                format!(
                    "The introspection query would return more than {max} objects; \
                     ask for less at once (as the standard introspection query does)."
                ),
            )),
        }
    }

    /// The value of an argument, with variables replaced by the values in force.
    fn argument(&self, field: &Field, name: &str) -> Option<Value> {
        field
            .arguments
            .iter()
            .find(|(n, _)| n.node.as_str() == name)
            .map(|(_, v)| {
                v.node
                    .clone()
                    .into_const_with(|var: Name| -> Result<Value, ()> {
                        Ok(self.variables.get(&var).cloned().unwrap_or(Value::Null))
                    })
                    .unwrap_or(Value::Null)
            })
    }

    /// The page size a list field asks for, or `None` when the field is not a list.
    fn page_size(&self, field: &Field, connection: bool) -> Option<u64> {
        let size = |value: Value| -> u64 {
            match value {
                Value::Number(n) => n.as_u64().unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
                Value::Null => DEFAULT_PAGE_SIZE,
                // Anything else is refused by validation; count it at the most.
                _ => MAX_PAGE_SIZE,
            }
        };
        if field.name.node.as_str() == "nodes"
            && let Some(ids) = self.argument(field, "ids")
        {
            return Some(match ids {
                Value::List(items) => (items.len() as u64).min(MAX_NODES as u64),
                _ => MAX_NODES as u64,
            });
        }
        for name in ["first", "last"] {
            if let Some(value) = self.argument(field, name)
                && value != Value::Null
            {
                return Some(size(value));
            }
        }
        // A connection without `first`/`last` returns a default page.
        connection.then_some(DEFAULT_PAGE_SIZE)
    }
}

/// Measures the operation a request runs against the limits. `variables` are the values in
/// force (see [`effective_variables`]).
pub fn analyze(
    doc: &ExecutableDocument,
    operation: &OperationDefinition,
    variables: &Variables,
    limits: &Limits,
    shape: &SchemaShape,
) -> Result<Analysis, Exceeded> {
    let mut analyzer = Analyzer {
        doc,
        variables,
        limits,
        shape,
        fragments: HashMap::new(),
        in_progress: HashSet::new(),
        level: 0,
        introspection_steps: INTROSPECTION_STEPS,
    };
    let mut summary = analyzer.selection_set(&operation.selection_set.node, false)?;
    summary.directives = summary
        .directives
        .saturating_add(operation.directives.len() as u64);
    let over = |limit: &'static str, max: u64, actual: u64, message: String| {
        Err(Exceeded::new(limit, max, actual, message))
    };
    if summary.aliases > limits.max_aliases as u64 {
        return over(
            "aliases",
            limits.max_aliases as u64,
            summary.aliases,
            format!("The query uses more than {} aliases.", limits.max_aliases),
        );
    }
    if summary.directives > limits.max_directives as u64 {
        return over(
            "directives",
            limits.max_directives as u64,
            summary.directives,
            format!(
                "The query uses more than {} directives.",
                limits.max_directives
            ),
        );
    }
    if summary.fields > limits.max_fields {
        return over(
            "fields",
            limits.max_fields,
            summary.fields,
            format!(
                "With its fragments spread in place, the query selects {} fields; the limit is {}.",
                summary.fields, limits.max_fields
            ),
        );
    }
    if summary.depth > limits.max_depth {
        return over(
            "depth",
            limits.max_depth as u64,
            summary.depth as u64,
            format!(
                "The query nests fields {} deep; the limit is {}.",
                summary.depth, limits.max_depth
            ),
        );
    }
    if summary.type_lists > MAX_INTROSPECTION_LISTS {
        return over(
            "introspectionDepth",
            MAX_INTROSPECTION_LISTS as u64,
            summary.type_lists as u64,
            format!(
                "Maximum introspection depth exceeded: `fields`, `interfaces`, `possibleTypes` \
                 and `inputFields` may nest {MAX_INTROSPECTION_LISTS} deep."
            ),
        );
    }
    let nodes = summary.records.saturating_add(summary.introspection);
    if nodes > limits.max_nodes {
        return over(
            "nodes",
            limits.max_nodes,
            nodes,
            format!(
                "The query could return more than {} records (every list multiplies what is \
                 below it by its page size); ask for smaller pages or fewer nested lists.",
                limits.max_nodes
            ),
        );
    }
    let is_mutation = operation.ty == OperationType::Mutation;
    let mutations = if is_mutation {
        operation.selection_set.node.items.len() as u64
    } else {
        0
    };
    Ok(Analysis {
        depth: summary.depth,
        nodes,
        cost: cost(summary.records, summary.introspection, mutations),
        aliases: summary.aliases,
        directives: summary.directives,
        fields: summary.fields,
        is_mutation,
        introspection_only: summary.data_fields == 0,
        caller_specific: summary.caller_specific,
    })
}

/// A text input that cannot be stored or searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadText {
    /// The argument or input field, as a path (`filter.search`, `input.name[0].text`).
    pub field: String,
    pub message: String,
}

/// Refuses NUL characters in every text a request carries: argument literals, variable values
/// (given or default) and directive arguments. PostgreSQL cannot store them in text and SQLite
/// would store them silently, so no string with one reaches a resolver.
pub fn check_text(doc: &ExecutableDocument, variables: &Variables) -> Result<(), BadText> {
    let mut checker = TextChecker {
        variables,
        seen_variables: HashSet::new(),
    };
    for (_, operation) in doc.operations.iter() {
        for definition in &operation.node.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                let name = format!("${}", definition.node.name.node);
                checker.const_value(&default.node, &name)?;
            }
        }
        checker.directives(&operation.node.directives)?;
        checker.selection_set(&operation.node.selection_set.node)?;
    }
    for fragment in doc.fragments.values() {
        checker.directives(&fragment.node.directives)?;
        checker.selection_set(&fragment.node.selection_set.node)?;
    }
    for (name, value) in variables.iter() {
        if checker.seen_variables.insert(name.as_str()) {
            checker.const_value(value, &format!("${name}"))?;
        }
    }
    Ok(())
}

struct TextChecker<'a> {
    variables: &'a Variables,
    seen_variables: HashSet<&'a str>,
}

impl<'a> TextChecker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Result<(), BadText> {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    for (name, value) in &field.arguments {
                        self.value(&value.node, name.node.as_str())?;
                    }
                    self.directives(&field.directives)?;
                    self.selection_set(&field.selection_set.node)?;
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.node.directives)?;
                }
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.node.directives)?;
                    self.selection_set(&inline.node.selection_set.node)?;
                }
            }
        }
        Ok(())
    }

    fn directives(&mut self, directives: &'a [Positioned<Directive>]) -> Result<(), BadText> {
        for directive in directives {
            for (name, value) in &directive.node.arguments {
                self.value(&value.node, name.node.as_str())?;
            }
        }
        Ok(())
    }

    /// A literal that may hold variables: each variable is checked once, named by the first
    /// place it is used.
    fn value(&mut self, value: &'a Literal, path: &str) -> Result<(), BadText> {
        match value {
            Literal::Variable(name) => {
                if self.seen_variables.insert(name.as_str())
                    && let Some(given) = self.variables.get(name)
                {
                    return self.const_value(given, path);
                }
                Ok(())
            }
            Literal::String(text) => check_string(text, path),
            Literal::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.value(item, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Literal::Object(fields) => {
                for (key, item) in fields {
                    check_string(key.as_str(), path)?;
                    self.value(item, &format!("{path}.{key}"))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn const_value(&self, value: &Value, path: &str) -> Result<(), BadText> {
        match value {
            Value::String(text) => check_string(text, path),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.const_value(item, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Value::Object(fields) => {
                for (key, item) in fields {
                    check_string(key.as_str(), path)?;
                    self.const_value(item, &format!("{path}.{key}"))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn check_string(text: &str, path: &str) -> Result<(), BadText> {
    if text.contains('\0') {
        return Err(BadText {
            field: path.to_owned(),
            message: format!("`{path}` contains a NUL character (U+0000), which no text may hold."),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn shape() -> SchemaShape {
        SchemaShape::of(&crate::domain::schema::build_schema()).await
    }

    /// The test documents hold one operation.
    fn only_operation(doc: &ExecutableDocument) -> &OperationDefinition {
        use async_graphql::parser::types::DocumentOperations;
        match &doc.operations {
            DocumentOperations::Single(op) => &op.node,
            DocumentOperations::Multiple(ops) => &ops.values().next().unwrap().node,
        }
    }

    fn measure_with(
        shape: &SchemaShape,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<Analysis, Exceeded> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let given = Variables::from_json(variables);
        let operation = only_operation(&doc);
        let variables = effective_variables(Some(operation), &given);
        analyze(&doc, operation, &variables, &Limits::default(), shape)
    }

    #[tokio::test]
    async fn counts_nodes_through_nested_connections() {
        let shape = shape().await;
        let measure = |q: &str| measure_with(&shape, q, serde_json::json!({}));
        let a = measure("{ initiatives(first: 10) { nodes { themes { nodes { code } } outcomes(first: 5) { nodes { value } } } } }").unwrap();
        assert_eq!(a.nodes, 10 + 10 * 20 + 10 * 5);
        assert_eq!(a.cost, 3);
        assert_eq!(a.depth, 5);
        let b = measure("query { nodes(ids: [\"a\", \"b\"]) { id } }").unwrap();
        assert_eq!(b.nodes, 2);
        assert_eq!(b.cost, 1);
    }

    #[tokio::test]
    async fn page_sizes_come_from_the_variables_in_force() {
        let shape = shape().await;
        let query =
            "query($n: Int = 100) { ...F } fragment F on Query { needs(first: $n) { totalCount } }";
        let given = measure_with(&shape, query, serde_json::json!({"n": 50})).unwrap();
        assert_eq!(given.nodes, 50);
        let default = measure_with(&shape, query, serde_json::json!({})).unwrap();
        assert_eq!(default.nodes, 100, "a variable's default value counts");
        // The same query refused with literals is refused with defaults.
        let literal = "{ a: initiatives(first: 100) { nodes { needs(first: 100) { nodes { initiatives(first: 100) { nodes { id } } } } } } }";
        let defaults = "query($n: Int = 100) { a: initiatives(first: $n) { nodes { needs(first: $n) { nodes { initiatives(first: $n) { nodes { id } } } } } } }";
        for q in [literal, defaults] {
            assert_eq!(
                measure_with(&shape, q, serde_json::json!({}))
                    .unwrap_err()
                    .limit,
                "nodes"
            );
        }
    }

    #[tokio::test]
    async fn fragment_fan_out_is_measured_once_per_fragment() {
        let shape = shape().await;
        // F0 spreads F1 twice, F1 spreads F2 twice… : 2^n fields once spread in place.
        let fan_out = |n: usize, field: &str| {
            let mut doc = String::from("{ ...F0 }");
            for i in 0..n {
                doc.push_str(&format!(
                    " fragment F{i} on Query {{ ...F{} ...F{} }}",
                    i + 1,
                    i + 1
                ));
            }
            doc.push_str(&format!(" fragment F{n} on Query {{ {field} }}"));
            doc
        };
        let small =
            measure_with(&shape, &fan_out(10, "__typename"), serde_json::json!({})).unwrap();
        assert_eq!(small.fields, 1024);
        for n in [13, 22, 40, 60] {
            let started = std::time::Instant::now();
            let refused =
                measure_with(&shape, &fan_out(n, "__typename"), serde_json::json!({})).unwrap_err();
            assert!(
                refused.limit == "fields" || refused.limit == "nesting",
                "{refused:?}"
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "n = {n}"
            );
        }
        // Aliases and directives fan out with their fragments too.
        let aliased =
            measure_with(&shape, &fan_out(5, "a: __typename"), serde_json::json!({})).unwrap_err();
        assert_eq!(aliased.limit, "aliases");
        assert_eq!(aliased.actual, 32);
    }

    #[tokio::test]
    async fn fragment_chains_are_bounded_by_the_nesting_limit() {
        let shape = shape().await;
        let chain = |n: usize| {
            let mut doc = String::from("{ ...F0 }");
            for i in 0..n {
                doc.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
            }
            doc.push_str(&format!(" fragment F{n} on Query {{ __typename }}"));
            doc
        };
        assert!(measure_with(&shape, &chain(25), serde_json::json!({})).is_ok());
        let refused = measure_with(&shape, &chain(1000), serde_json::json!({})).unwrap_err();
        assert_eq!(refused.limit, "nesting");
    }

    #[tokio::test]
    async fn standard_introspection_fits_and_explosive_introspection_does_not() {
        let shape = shape().await;
        let full = measure_with(&shape, GRAPHQL_JS_INTROSPECTION, serde_json::json!({})).unwrap();
        assert!(full.introspection_only);
        assert!(full.nodes > 1_000 && full.nodes < 20_000, "{full:?}");
        assert!(full.depth <= 6, "ofType does not add depth: {full:?}");
        // Type lists nested three deep: graphql-js's rule refuses them.
        let lists =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        let refused = measure_with(&shape, lists, serde_json::json!({})).unwrap_err();
        assert_eq!(refused.limit, "introspectionDepth");
        let lists = "{ __type(name: \"Node\") { possibleTypes { interfaces { possibleTypes { name } } } } }";
        let refused = measure_with(&shape, lists, serde_json::json!({})).unwrap_err();
        assert_eq!(refused.limit, "introspectionDepth");
        // Within the rule, the answer's real size counts (every field's type's fields…), and
        // aliases multiply it.
        let wide = "fragment T on __Type { fields { name args { name } } } \
                    fragment W on __Schema { types { fields { type { ...T ofType { ...T ofType { ...T } } } } } }";
        let one = measure_with(
            &shape,
            &format!("{{ __schema {{ ...W }} }} {wide}"),
            serde_json::json!({}),
        )
        .unwrap();
        let copies: String = (0..30)
            .map(|i| format!("s{i}: __schema {{ ...W }} "))
            .collect();
        let refused = measure_with(
            &shape,
            &format!("{{ {copies} }} {wide}"),
            serde_json::json!({}),
        )
        .unwrap_err();
        assert_eq!(refused.limit, "nodes");
        assert!(one.nodes * 30 > 50_000, "{one:?}");
        // Aliases and depth count inside introspection.
        let aliases: String = (0..31).map(|i| format!("n{i}: name ")).collect();
        let refused = measure_with(
            &shape,
            &format!("{{ __schema {{ types {{ {aliases} }} }} }}"),
            serde_json::json!({}),
        )
        .unwrap_err();
        assert_eq!(refused.limit, "aliases");
    }

    /// Elements of every list in an answer.
    fn list_elements(value: &serde_json::Value) -> u64 {
        match value {
            serde_json::Value::Array(items) => {
                items.len() as u64 + items.iter().map(list_elements).sum::<u64>()
            }
            serde_json::Value::Object(map) => map.values().map(list_elements).sum(),
            _ => 0,
        }
    }

    #[tokio::test]
    async fn introspection_counts_match_the_real_answers() {
        let schema = crate::domain::schema::build_schema();
        let shape = SchemaShape::of(&schema).await;
        for query in [
            GRAPHQL_JS_INTROSPECTION,
            "{ __schema { types { name possibleTypes { name interfaces { name } } } } }",
            "{ __schema { directives { name locations args { name type { ofType { name } } } } } }",
            "{ __schema { types { inputFields { type { ofType { ofType { inputFields { name } } } } } } } }",
            "{ __schema { queryType { fields { args { name } type { ofType { fields { name } } } } } } }",
        ] {
            let measured = measure_with(&shape, query, serde_json::json!({})).unwrap();
            let answer = schema.execute(query).await;
            assert!(answer.errors.is_empty(), "{query}: {:?}", answer.errors);
            let data = answer.data.into_json().unwrap();
            assert_eq!(measured.nodes, list_elements(&data), "{query}");
        }
    }

    #[test]
    fn refuses_nul_characters_in_every_text() {
        let refused = |query: &str, variables: serde_json::Value| {
            let doc = async_graphql::parser::parse_query(query).unwrap();
            let given = Variables::from_json(variables);
            let variables = effective_variables(Some(only_operation(&doc)), &given);
            check_text(&doc, &variables).map_err(|bad| bad.field)
        };
        assert_eq!(
            refused(
                "{ initiatives(filter: {search: \"a\\u0000b\"}) { totalCount } }",
                serde_json::json!({})
            ),
            Err("filter.search".to_owned())
        );
        assert_eq!(
            refused(
                "query($s: String) { initiatives(filter: {search: $s}) { totalCount } }",
                serde_json::json!({"s": "\u{0}"})
            ),
            Err("filter.search".to_owned())
        );
        assert_eq!(
            refused(
                "query($i: X) { m(input: $i) { x } }",
                serde_json::json!({"i": {"name": [{"locale": "en", "text": "a\u{0}"}]}})
            ),
            Err("input.name[0].text".to_owned())
        );
        assert_eq!(
            refused(
                "query($s: String = \"\\u0000\") { a(after: $s) }",
                serde_json::json!({})
            ),
            Err("$s".to_owned())
        );
        assert_eq!(
            refused("{ a(x: \"fine\") }", serde_json::json!({"unused": "ok"})),
            Ok(())
        );
    }

    /// graphql-js's `getIntrospectionQuery` with every option on.
    const GRAPHQL_JS_INTROSPECTION: &str = r#"
    query IntrospectionQuery {
      __schema {
        description
        queryType { name kind }
        mutationType { name kind }
        subscriptionType { name kind }
        types { ...FullType }
        directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
      }
    }
    fragment FullType on __Type {
      kind name description specifiedByURL isOneOf
      fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
      inputFields(includeDeprecated: true) { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...TypeRef }
    }
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
    fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }
    "#;
}
