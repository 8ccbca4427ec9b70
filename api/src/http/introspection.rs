//! A compact model of the schema (its types, their fields and type references), read from the
//! schema itself at start. It tells how nullable a field is (for null propagation) and how
//! many objects an introspection selection would return, counted before it runs. Introspection answers from memory, but nested `possibleTypes`,
//! `interfaces`, `fields` and `types` multiply: a few hundred characters could ask for
//! gigabytes. Counting the real answer (not a worst-case product) keeps the standard
//! introspection queries well within the node limit while refusing the explosive ones.
use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Value, Variables};
use async_graphql_value::Value as Literal;
use serde_json::Value as Json;

/// A type reference: a named type under zero or more `NON_NULL`/`LIST` wrappers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeRef {
    named: usize,
    /// How many wrappers enclose the named type (each `ofType` removes one).
    wrappers: usize,
    /// Which of them are `NON_NULL`: bit `i` for the wrapper `i` levels in from the outside.
    non_null: u32,
}

impl TypeRef {
    /// Whether a value of this type may be null.
    pub fn is_nullable(&self) -> bool {
        self.wrappers == 0 || self.non_null & 1 == 0
    }

    /// The type inside one wrapper (`None` for a named type).
    fn unwrap_one(&self) -> Option<TypeRef> {
        (self.wrappers > 0).then(|| TypeRef {
            named: self.named,
            wrappers: self.wrappers - 1,
            non_null: self.non_null >> 1,
        })
    }

    /// The type of a list's items (through a `NON_NULL` around the list).
    pub fn item(&self) -> Option<TypeRef> {
        let list = if self.is_nullable() {
            *self
        } else {
            self.unwrap_one()?
        };
        list.unwrap_one()
    }
}

#[derive(Debug, Clone, Default)]
struct FieldShape {
    name: String,
    args: Vec<TypeRef>,
    ty: TypeRef,
}

#[derive(Debug, Clone, Default)]
struct TypeShape {
    name: String,
    fields: Vec<FieldShape>,
    input_fields: Vec<TypeRef>,
    interfaces: Vec<usize>,
    possible_types: Vec<usize>,
    enum_values: usize,
}

#[derive(Debug, Clone, Default)]
struct DirectiveShape {
    args: Vec<TypeRef>,
    locations: usize,
}

/// The parts of a schema that decide the size of an introspection answer.
#[derive(Debug, Clone, Default)]
pub struct SchemaShape {
    types: Vec<TypeShape>,
    names: HashMap<String, usize>,
    roots: Vec<usize>,
    directives: Vec<DirectiveShape>,
}

/// The query that reads the shape from the schema itself.
pub const SHAPE_QUERY: &str = r#"{
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      name
      fields(includeDeprecated: true) { name args(includeDeprecated: true) { type { ...R } } type { ...R } }
      inputFields(includeDeprecated: true) { type { ...R } }
      interfaces { name }
      possibleTypes { name }
      enumValues(includeDeprecated: true) { name }
    }
    directives { locations args(includeDeprecated: true) { type { ...R } } }
  }
}
fragment R on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } }"#;

impl SchemaShape {
    /// Builds the model from the answer to [`SHAPE_QUERY`].
    pub fn from_introspection(data: &Json) -> Self {
        let schema = &data["__schema"];
        let types = schema["types"].as_array().cloned().unwrap_or_default();
        let names: HashMap<String, usize> = types
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t["name"].as_str().map(|n| (n.to_owned(), i)))
            .collect();
        let index = |name: &Json| name.as_str().and_then(|n| names.get(n).copied());
        let type_ref = |value: &Json| -> TypeRef {
            let mut wrappers = 0;
            let mut non_null = 0u32;
            let mut current = value;
            while current["name"].is_null() && current["ofType"].is_object() {
                if current["kind"] == "NON_NULL" {
                    non_null |= 1 << wrappers;
                }
                wrappers += 1;
                current = &current["ofType"];
            }
            TypeRef {
                named: index(&current["name"]).unwrap_or(0),
                wrappers,
                non_null,
            }
        };
        let refs = |value: &Json, key: &str| -> Vec<TypeRef> {
            value[key]
                .as_array()
                .map(|items| items.iter().map(|i| type_ref(&i["type"])).collect())
                .unwrap_or_default()
        };
        let named_list = |value: &Json| -> Vec<usize> {
            value
                .as_array()
                .map(|items| items.iter().filter_map(|i| index(&i["name"])).collect())
                .unwrap_or_default()
        };
        let shapes = types
            .iter()
            .map(|t| TypeShape {
                name: t["name"].as_str().unwrap_or_default().to_owned(),
                fields: t["fields"]
                    .as_array()
                    .map(|fields| {
                        fields
                            .iter()
                            .map(|f| FieldShape {
                                name: f["name"].as_str().unwrap_or_default().to_owned(),
                                args: refs(f, "args"),
                                ty: type_ref(&f["type"]),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                input_fields: refs(t, "inputFields"),
                interfaces: named_list(&t["interfaces"]),
                possible_types: named_list(&t["possibleTypes"]),
                enum_values: t["enumValues"].as_array().map_or(0, Vec::len),
            })
            .collect();
        let roots = ["queryType", "mutationType", "subscriptionType"]
            .iter()
            .map(|root| index(&schema[*root]["name"]).unwrap_or(usize::MAX))
            .collect();
        let directives = schema["directives"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|d| DirectiveShape {
                        args: refs(d, "args"),
                        locations: d["locations"].as_array().map_or(0, Vec::len),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            types: shapes,
            names,
            roots,
            directives,
        }
    }

    /// The root type of an operation (`query`, `mutation`, `subscription`).
    pub fn root(&self, operation: async_graphql::parser::types::OperationType) -> Option<&str> {
        use async_graphql::parser::types::OperationType;
        let index = match operation {
            OperationType::Query => 0,
            OperationType::Mutation => 1,
            OperationType::Subscription => 2,
        };
        let root = *self.roots.get(index)?;
        self.types.get(root).map(|t| t.name.as_str())
    }

    /// The type of a field of a named type, with the name of the type it returns.
    pub fn field_type(&self, type_name: &str, field: &str) -> Option<(TypeRef, &str)> {
        let owner = self.types.get(*self.names.get(type_name)?)?;
        let ty = owner.fields.iter().find(|f| f.name == field)?.ty;
        Some((ty, self.types.get(ty.named)?.name.as_str()))
    }

    /// Reads the shape of a schema by introspecting it.
    pub async fn of<Q, M, S>(schema: &async_graphql::Schema<Q, M, S>) -> Self
    where
        Q: async_graphql::ObjectType + 'static,
        M: async_graphql::ObjectType + 'static,
        S: async_graphql::SubscriptionType + 'static,
    {
        let response = schema.execute(SHAPE_QUERY).await;
        let data = response.data.into_json().unwrap_or(Json::Null);
        Self::from_introspection(&data)
    }
}

/// An object of the introspection answer.
#[derive(Clone, Copy)]
enum Object<'s> {
    Schema,
    Type(TypeRef),
    Field(&'s FieldShape),
    InputValue(TypeRef),
    Directive(&'s DirectiveShape),
    /// An enum value: leaves only.
    Leaf,
}

/// Why counting stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// Objects counted when it stopped.
    pub counted: u64,
}

/// Counts the objects of one `__schema` or `__type` field, stopping past `max_objects` or after
/// `max_steps` selections visited (a bound on the counting's own work).
pub struct Counter<'a> {
    shape: &'a SchemaShape,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    max_objects: u64,
    steps_left: u64,
    objects: u64,
    fragments: Vec<&'a str>,
}

impl<'a> Counter<'a> {
    pub fn new(
        shape: &'a SchemaShape,
        doc: &'a ExecutableDocument,
        variables: &'a Variables,
        max_objects: u64,
        max_steps: u64,
    ) -> Self {
        Self {
            shape,
            doc,
            variables,
            max_objects,
            steps_left: max_steps,
            objects: 0,
            fragments: Vec::new(),
        }
    }

    /// The objects an introspection root field (`__schema` or `__type`) returns, and the
    /// steps left of the budget.
    pub fn root(mut self, field: &'a Field) -> Result<(u64, u64), TooLarge> {
        match field.name.node.as_str() {
            "__schema" => self.set(&field.selection_set.node, Object::Schema)?,
            "__type" => {
                let name = field
                    .arguments
                    .iter()
                    .find(|(n, _)| n.node.as_str() == "name")
                    .and_then(|(_, v)| match &v.node {
                        Literal::String(s) => Some(s.clone()),
                        Literal::Variable(var) => match self.variables.get(var) {
                            Some(Value::String(s)) => Some(s.clone()),
                            _ => None,
                        },
                        _ => None,
                    });
                if let Some(&named) = name.and_then(|n| self.shape.names.get(&n)) {
                    self.objects += 1;
                    self.set(&field.selection_set.node, Object::Type(plain(named)))?;
                }
            }
            _ => {}
        }
        Ok((self.objects, self.steps_left))
    }

    fn step(&mut self) -> Result<(), TooLarge> {
        if self.steps_left == 0 || self.objects > self.max_objects {
            return Err(TooLarge {
                counted: self.objects,
            });
        }
        self.steps_left -= 1;
        Ok(())
    }

    fn each<I>(&mut self, set: &'a SelectionSet, items: I) -> Result<(), TooLarge>
    where
        I: IntoIterator<Item = Object<'a>>,
    {
        for item in items {
            self.objects += 1;
            self.step()?;
            self.set(set, item)?;
        }
        Ok(())
    }

    fn set(&mut self, set: &'a SelectionSet, object: Object<'a>) -> Result<(), TooLarge> {
        for item in &set.items {
            self.step()?;
            match &item.node {
                Selection::Field(field) => self.field(&field.node, object)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    // A cycle is refused by validation; never follow one here.
                    if self.fragments.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.doc.fragments.get(&spread.node.fragment_name.node)
                    {
                        self.fragments.push(name);
                        self.set(&fragment.node.selection_set.node, object)?;
                        self.fragments.pop();
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.set(&inline.node.selection_set.node, object)?
                }
            }
        }
        Ok(())
    }

    fn field(&mut self, field: &'a Field, object: Object<'a>) -> Result<(), TooLarge> {
        let shape = self.shape;
        let sub = &field.selection_set.node;
        let name = field.name.node.as_str();
        match (object, name) {
            (Object::Schema, "types") => {
                self.each(sub, (0..shape.types.len()).map(|i| Object::Type(plain(i))))
            }
            (Object::Schema, "queryType" | "mutationType" | "subscriptionType") => {
                let root = match name {
                    "queryType" => 0,
                    "mutationType" => 1,
                    _ => 2,
                };
                match shape.roots.get(root).filter(|&&i| i < shape.types.len()) {
                    Some(&i) => self.set(sub, Object::Type(plain(i))),
                    None => Ok(()),
                }
            }
            (Object::Schema, "directives") => {
                self.each(sub, shape.directives.iter().map(Object::Directive))
            }
            // A wrapper (`NON_NULL`, `LIST`) has only `kind` and `ofType`.
            (Object::Type(ty), "ofType") if ty.wrappers > 0 => match ty.unwrap_one() {
                Some(inner) => self.set(sub, Object::Type(inner)),
                None => Ok(()),
            },
            (Object::Type(ty), _) if ty.wrappers > 0 => Ok(()),
            (Object::Type(ty), "fields") => {
                let fields = &shape.types[ty.named].fields;
                self.each(sub, fields.iter().map(Object::Field))
            }
            (Object::Type(ty), "inputFields") => {
                let inputs = &shape.types[ty.named].input_fields;
                self.each(sub, inputs.iter().map(|&t| Object::InputValue(t)))
            }
            (Object::Type(ty), "interfaces") => {
                let list = &shape.types[ty.named].interfaces;
                self.each(sub, list.iter().map(|&i| Object::Type(plain(i))))
            }
            (Object::Type(ty), "possibleTypes") => {
                let list = &shape.types[ty.named].possible_types;
                self.each(sub, list.iter().map(|&i| Object::Type(plain(i))))
            }
            (Object::Type(ty), "enumValues") => {
                let n = shape.types[ty.named].enum_values;
                self.each(sub, std::iter::repeat_n(Object::Leaf, n))
            }
            (Object::Field(f), "args") => {
                self.each(sub, f.args.iter().map(|&t| Object::InputValue(t)))
            }
            (Object::Directive(d), "args") => {
                self.each(sub, d.args.iter().map(|&t| Object::InputValue(t)))
            }
            (Object::Directive(d), "locations") => {
                self.objects += d.locations as u64;
                self.step()
            }
            (Object::Field(f), "type") => self.set(sub, Object::Type(f.ty)),
            (Object::InputValue(ty), "type") => self.set(sub, Object::Type(ty)),
            // Leaves (`name`, `kind`, `description`…) and `ofType` of a named type (null).
            _ => Ok(()),
        }
    }
}

fn plain(named: usize) -> TypeRef {
    TypeRef {
        named,
        wrappers: 0,
        non_null: 0,
    }
}
