//! Codes for the errors the executor leaves without one, as graphql-js and Apollo name them,
//! with graphql-js's clearer message where it has one.
use async_graphql::parser::types::{ExecutableDocument, OperationDefinition};
use serde_json::{Value, json};

/// An argument or variable value that does not fit its type.
pub(super) fn is_coercion_error(message: &str) -> bool {
    message.starts_with("Failed to parse \"")
        || message.starts_with("Invalid value for argument")
        || message.starts_with("Variable ")
}

/// Gives every error a machine-readable `extensions.code`, as graphql-js and Apollo name
/// them: a value written in the document that does not fit its type makes the document
/// invalid (`GRAPHQL_VALIDATION_FAILED`); a variable's value that does not fit, or a required
/// variable left out, is bad input (`BAD_USER_INPUT`).
pub(super) fn label_error(
    error: &mut Value,
    source: &async_graphql::ServerError,
    document: &ExecutableDocument,
    operation: Option<&OperationDefinition>,
) {
    if error.pointer("/extensions/code").is_some() {
        return;
    }
    let (code, message) = error_label(source, document, operation);
    if let Some(message) = message {
        error["message"] = json!(message);
    }
    if let Some(object) = error.as_object_mut() {
        let extensions = object.entry("extensions").or_insert_with(|| json!({}));
        if let Some(extensions) = extensions.as_object_mut() {
            extensions.insert("code".into(), json!(code));
        }
    }
}

/// The code of an error the executor left without one, and a clearer message when there is
/// one to give (see `label_error`).
pub(super) fn error_label(
    source: &async_graphql::ServerError,
    document: &ExecutableDocument,
    operation: Option<&OperationDefinition>,
) -> (&'static str, Option<String>) {
    let message = source.message.as_str();
    let about_a_value = message.starts_with("Invalid value for argument")
        || message.starts_with("Failed to parse")
        || message.contains("Expected input type");
    if let Some(variable) = missing_variable(message) {
        ("BAD_USER_INPUT", describe_missing(operation, variable))
    } else if about_a_value && variable_at(document, &source.locations) {
        ("BAD_USER_INPUT", None)
    } else {
        ("GRAPHQL_VALIDATION_FAILED", None)
    }
}

fn missing_variable(message: &str) -> Option<&str> {
    message
        .strip_prefix("Variable ")?
        .strip_suffix(" is not defined.")
        .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// "Variable "$x" of required type "T!" was not provided.", as graphql-js says it.
fn describe_missing(operation: Option<&OperationDefinition>, variable: &str) -> Option<String> {
    let definition = operation?
        .variable_definitions
        .iter()
        .find(|d| d.node.name.node.as_str() == variable)?;
    Some(format!(
        "Variable \"${variable}\" of required type \"{}\" was not provided.",
        definition.node.var_type.node
    ))
}

/// Whether the argument (or the field) an error points at takes its value from a variable.
fn variable_at(document: &ExecutableDocument, locations: &[async_graphql::Pos]) -> bool {
    use async_graphql::parser::types::{Selection, SelectionSet};
    use async_graphql_value::Value as Literal;
    fn holds_variable(value: &Literal) -> bool {
        match value {
            Literal::Variable(_) => true,
            Literal::List(items) => items.iter().any(holds_variable),
            Literal::Object(fields) => fields.values().any(holds_variable),
            _ => false,
        }
    }
    fn search(set: &SelectionSet, at: async_graphql::Pos, depth: usize) -> Option<bool> {
        if depth > 64 {
            return None;
        }
        for item in &set.items {
            let found = match &item.node {
                Selection::Field(field) => {
                    if field.pos == at {
                        return Some(
                            field
                                .node
                                .arguments
                                .iter()
                                .any(|(_, v)| holds_variable(&v.node)),
                        );
                    }
                    if let Some((_, value)) = field
                        .node
                        .arguments
                        .iter()
                        .find(|(name, value)| name.pos == at || value.pos == at)
                    {
                        return Some(holds_variable(&value.node));
                    }
                    search(&field.node.selection_set.node, at, depth + 1)
                }
                Selection::InlineFragment(inline) => {
                    search(&inline.node.selection_set.node, at, depth + 1)
                }
                Selection::FragmentSpread(_) => None,
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
    locations.iter().any(|&at| {
        document
            .operations
            .iter()
            .map(|(_, op)| &op.node.selection_set.node)
            .chain(
                document
                    .fragments
                    .values()
                    .map(|f| &f.node.selection_set.node),
            )
            .find_map(|set| search(set, at, 0))
            .unwrap_or(false)
    })
}
