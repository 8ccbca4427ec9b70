//! A query's selections, as the planner reads them: fields collected as the GraphQL
//! specification collects them (aliases, fragments, `@skip` and `@include`, merged
//! selections), each one resolved against the record type's declared fields, with its
//! arguments checked as the executor checks them.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::parser::types::{
    ExecutableDocument, Field as QueryField, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet,
};
use async_graphql::{Name, Positioned, Value, Variables};
use sea_orm::sea_query::SelectStatement;

use super::{Converter, FieldKind, Planner, TypePlan};
use crate::graphql::context::RequestContext;
use crate::graphql::loader::{Link, Only};
use crate::kernel::i18n::parse_locale_argument;
use crate::kernel::ids::GlobalId;
use crate::kernel::paging::{PageArgs, PageRequest};
use crate::kernel::sort::SortKey;

/// A root field of the query.
pub enum Root {
    Typename,
    /// `node(id:)`: the record, when the ID is one of a compiled type.
    Node {
        id: i64,
        object: Object,
    },
    /// `nodes(ids:)`: each record in the order asked.
    Nodes(Vec<(i64, Object)>),
    List(Box<List>),
}

/// The fields selected of one record.
pub struct Object {
    pub ty: Arc<TypePlan>,
    pub items: Vec<(Name, Item)>,
}

pub enum Item {
    Typename(String),
    Id,
    Pure {
        column: &'static str,
        convert: Converter,
    },
    Text {
        column: &'static str,
        required: bool,
        chain: Vec<String>,
    },
    TextLocale {
        column: &'static str,
        chain: Vec<String>,
    },
    Translations {
        column: &'static str,
        fields: Vec<(Name, TranslationField)>,
    },
    Reference {
        column: &'static str,
        required: bool,
        object: Object,
    },
    List(Box<List>),
}

/// A page of a list (a connection) and what is selected of it.
pub struct List {
    pub ty: Arc<TypePlan>,
    pub source: Source,
    pub key: SortKey,
    pub page: PageRequest,
    pub parts: Vec<(Name, Part)>,
    /// The records' selections: each row holds one object per entry (`nodes`, `edges.node`).
    pub objects: Vec<Object>,
    pub cursor: bool,
    pub count: bool,
}

pub enum Source {
    /// A top-level list: its filtered query.
    Root(Box<SelectStatement>),
    /// A nested list of its parent's row.
    Nested { link: Link, only: Option<Only> },
}

pub enum Part {
    Typename(String),
    TotalCount,
    PageInfo(Vec<(Name, PageField)>),
    Nodes(usize),
    Edges(Vec<(Name, EdgeField)>),
}

pub enum TranslationField {
    Typename,
    Locale,
    Text,
}

pub enum PageField {
    Typename,
    HasNext,
    HasPrevious,
    StartCursor,
    EndCursor,
}

pub enum EdgeField {
    Typename(String),
    Cursor,
    Node(usize),
}

pub struct Compiler<'a> {
    planner: &'a Planner,
    request: &'a RequestContext,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    defaults: HashMap<&'a str, Value>,
}

/// The fields of one selection set, grouped by response key in the order they first appear.
type Collected<'q> = Vec<(Name, Vec<&'q Positioned<QueryField>>)>;

impl<'a> Compiler<'a> {
    pub fn new(
        planner: &'a Planner,
        request: &'a RequestContext,
        document: &'a ExecutableDocument,
        operation: &'a OperationDefinition,
        variables: &'a Variables,
    ) -> Self {
        let defaults = operation
            .variable_definitions
            .iter()
            .filter_map(|definition| {
                let default = definition.node.default_value.as_ref()?;
                Some((definition.node.name.node.as_str(), default.node.clone()))
            })
            .collect();
        Self {
            planner,
            request,
            fragments: &document.fragments,
            variables,
            defaults,
        }
    }

    pub fn roots(&self, operation: &OperationDefinition) -> Option<Vec<(Name, Root)>> {
        if !operation.directives.is_empty() {
            return None;
        }
        // A required variable without a value is the executor's to refuse.
        for definition in &operation.variable_definitions {
            let definition = &definition.node;
            if !definition.var_type.node.nullable
                && self.variable(definition.name.node.as_str()) == Value::Null
            {
                return None;
            }
        }
        let mut roots = Vec::new();
        for (key, fields) in self.collect(&operation.selection_set.node, &exactly("Query"))? {
            let field = &fields[0].node;
            let root = match field.name.node.as_str() {
                "__typename" => Root::Typename,
                "node" => self.node(field, &fields)?,
                "nodes" => self.nodes(field, &fields)?,
                name => {
                    let list = self.planner.roots.get(name)?;
                    let ty = self.planner.type_named(&list.ty)?;
                    self.no_arguments_but(
                        field,
                        &["first", "after", "last", "before", "filter", "orderBy"],
                    )?;
                    let select = (list.select)(self.argument(field, "filter"), self.request)?;
                    let key = (list.key)(self.argument(field, "orderBy"), self.request)?;
                    Root::List(Box::new(self.list(
                        ty,
                        Source::Root(Box::new(select)),
                        key,
                        field,
                        &fields,
                    )?))
                }
            };
            roots.push((key, root));
        }
        Some(roots)
    }

    fn node(&self, field: &QueryField, fields: &[&Positioned<QueryField>]) -> Option<Root> {
        self.no_arguments_but(field, &["id"])?;
        let Value::String(id) = self.argument(field, "id")? else {
            return None;
        };
        let GlobalId { kind, id } = GlobalId::decode("id", &async_graphql::ID(id)).ok()?;
        let ty = self.planner.kinds.get(&kind)?.clone();
        let object = self.object(ty, fields)?;
        Some(Root::Node { id, object })
    }

    fn nodes(&self, field: &QueryField, fields: &[&Positioned<QueryField>]) -> Option<Root> {
        self.no_arguments_but(field, &["ids"])?;
        let Value::List(ids) = self.argument(field, "ids")? else {
            return None;
        };
        // More than `nodes` takes is the executor's to refuse.
        if ids.len() > crate::kernel::ids::MAX_NODES {
            return None;
        }
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            let Value::String(id) = id else {
                return None;
            };
            let GlobalId { kind, id } = GlobalId::decode("ids", &async_graphql::ID(id)).ok()?;
            let ty = self.planner.kinds.get(&kind)?.clone();
            records.push((id, self.object(ty, fields)?));
        }
        Some(Root::Nodes(records))
    }

    /// The selections of `fields` (merged) on a record of type `ty`.
    fn object(&self, ty: Arc<TypePlan>, fields: &[&Positioned<QueryField>]) -> Option<Object> {
        // A fragment on the type or on `Node` applies; on another record type it does not;
        // on anything else (a type the planner does not know) the query is not compiled.
        let name = ty.name.clone();
        let applies = |t: &str| -> Option<bool> {
            if t == name || t == "Node" {
                Some(true)
            } else {
                self.planner.types.contains_key(t).then_some(false)
            }
        };
        let collected = self.collect_all(fields, &applies)?;
        let mut items = Vec::with_capacity(collected.len());
        for (key, fields) in collected {
            let field = &fields[0].node;
            let item = match field.name.node.as_str() {
                "__typename" => Item::Typename(ty.name.clone()),
                name => match &ty.fields.get(name)?.kind {
                    FieldKind::Id => {
                        self.no_arguments_but(field, &[])?;
                        Item::Id
                    }
                    FieldKind::Pure { column, convert } => {
                        self.no_arguments_but(field, &[])?;
                        Item::Pure {
                            column,
                            convert: convert.clone(),
                        }
                    }
                    FieldKind::Text { column, required } => Item::Text {
                        column,
                        required: *required,
                        chain: self.locale_chain(field)?,
                    },
                    FieldKind::TextLocale { column } => Item::TextLocale {
                        column,
                        chain: self.locale_chain(field)?,
                    },
                    FieldKind::Translations { column } => {
                        self.no_arguments_but(field, &[])?;
                        let mut chosen = Vec::new();
                        for (key, fields) in self.collect_all(&fields, &exactly("Translation"))? {
                            let field = &fields[0].node;
                            self.no_arguments_but(field, &[])?;
                            chosen.push((
                                key,
                                match field.name.node.as_str() {
                                    "__typename" => TranslationField::Typename,
                                    "locale" => TranslationField::Locale,
                                    "text" => TranslationField::Text,
                                    // Where a translation comes from is the executor's.
                                    _ => return None,
                                },
                            ));
                        }
                        if chosen.is_empty() {
                            return None;
                        }
                        Item::Translations {
                            column,
                            fields: chosen,
                        }
                    }
                    FieldKind::Reference {
                        column,
                        target,
                        required,
                    } => {
                        self.no_arguments_but(field, &[])?;
                        let target = self.planner.type_named(target)?;
                        Item::Reference {
                            column,
                            required: *required,
                            object: self.object(target, &fields)?,
                        }
                    }
                    FieldKind::List { target, link, only } => {
                        let target = self.planner.type_named(target)?;
                        let mut allowed = vec!["first", "after", "last", "before"];
                        let only = match only {
                            Some(argument) => {
                                allowed.push(argument.name);
                                (argument.restrict)(self.argument(field, argument.name))?
                            }
                            None => None,
                        };
                        self.no_arguments_but(field, &allowed)?;
                        let key = (target.default_sort)();
                        let source = Source::Nested { link: *link, only };
                        Item::List(Box::new(self.list(target, source, key, field, &fields)?))
                    }
                },
            };
            items.push((key, item));
        }
        // Every field skipped: the executor answers such an object with null (graphql-js with
        // `{}`); the planner leaves it to the executor rather than answer otherwise.
        if items.is_empty() {
            return None;
        }
        Some(Object { ty, items })
    }

    /// A connection: its page window, and what is selected of it.
    fn list(
        &self,
        ty: Arc<TypePlan>,
        source: Source,
        key: SortKey,
        field: &QueryField,
        fields: &[&Positioned<QueryField>],
    ) -> Option<List> {
        let int = |name: &str| -> Option<Option<i32>> {
            match self.argument(field, name) {
                None | Some(Value::Null) => Some(None),
                Some(Value::Number(n)) => Some(Some(i32::try_from(n.as_i64()?).ok()?)),
                Some(_) => None,
            }
        };
        let text = |name: &str| -> Option<Option<String>> {
            match self.argument(field, name) {
                None | Some(Value::Null) => Some(None),
                Some(Value::String(s)) => Some(Some(s)),
                Some(_) => None,
            }
        };
        let args = PageArgs::new(int("first")?, text("after")?, int("last")?, text("before")?);
        let page = PageRequest::new(&args, &key).ok()?;
        let connection = format!("{}Connection", ty.name);
        let edge = format!("{}Edge", ty.name);
        let mut list = List {
            ty: ty.clone(),
            source,
            key,
            page,
            parts: Vec::new(),
            objects: Vec::new(),
            cursor: false,
            count: false,
        };
        for (key, fields) in self.collect_all(fields, &exactly(&connection))? {
            let field = &fields[0].node;
            self.no_arguments_but(field, &[])?;
            let part = match field.name.node.as_str() {
                "__typename" => Part::Typename(connection.clone()),
                "totalCount" => {
                    list.count = true;
                    Part::TotalCount
                }
                "pageInfo" => {
                    let mut info = Vec::new();
                    for (key, fields) in self.collect_all(&fields, &exactly("PageInfo"))? {
                        let field = &fields[0].node;
                        self.no_arguments_but(field, &[])?;
                        info.push((
                            key,
                            match field.name.node.as_str() {
                                "__typename" => PageField::Typename,
                                "hasNextPage" => PageField::HasNext,
                                "hasPreviousPage" => PageField::HasPrevious,
                                "startCursor" => {
                                    list.cursor = true;
                                    PageField::StartCursor
                                }
                                "endCursor" => {
                                    list.cursor = true;
                                    PageField::EndCursor
                                }
                                _ => return None,
                            },
                        ));
                    }
                    if info.is_empty() {
                        return None;
                    }
                    Part::PageInfo(info)
                }
                "nodes" => {
                    list.objects.push(self.object(ty.clone(), &fields)?);
                    Part::Nodes(list.objects.len() - 1)
                }
                "edges" => {
                    let mut edge_fields = Vec::new();
                    for (key, fields) in self.collect_all(&fields, &exactly(&edge))? {
                        let field = &fields[0].node;
                        self.no_arguments_but(field, &[])?;
                        edge_fields.push((
                            key,
                            match field.name.node.as_str() {
                                "__typename" => EdgeField::Typename(edge.clone()),
                                "cursor" => {
                                    list.cursor = true;
                                    EdgeField::Cursor
                                }
                                "node" => {
                                    list.objects.push(self.object(ty.clone(), &fields)?);
                                    EdgeField::Node(list.objects.len() - 1)
                                }
                                _ => return None,
                            },
                        ));
                    }
                    if edge_fields.is_empty() {
                        return None;
                    }
                    Part::Edges(edge_fields)
                }
                _ => return None,
            };
            list.parts.push((key, part));
        }
        if list.parts.is_empty() {
            return None;
        }
        Some(list)
    }

    /// The locales a text field is looked up in: its `locale` argument, then the request's.
    fn locale_chain(&self, field: &QueryField) -> Option<Vec<String>> {
        self.no_arguments_but(field, &["locale"])?;
        let locale = match self.argument(field, "locale") {
            None | Some(Value::Null) => None,
            Some(Value::String(code)) => Some(code),
            Some(_) => return None,
        };
        let explicit = parse_locale_argument(locale.as_deref()).ok()?;
        Some(self.request.locales.chain(explicit.as_ref()))
    }

    /// `None` when the field has an argument not in `allowed`.
    fn no_arguments_but(&self, field: &QueryField, allowed: &[&str]) -> Option<()> {
        field
            .arguments
            .iter()
            .all(|(name, _)| allowed.contains(&name.node.as_str()))
            .then_some(())
    }

    /// An argument's value with its variables given (`None`: not given).
    fn argument(&self, field: &QueryField, name: &str) -> Option<Value> {
        let value = field.get_argument(name)?;
        value
            .node
            .clone()
            .into_const_with(|variable| Ok::<_, ()>(self.variable(&variable)))
            .ok()
    }

    fn variable(&self, name: &str) -> Value {
        self.variables
            .get(name)
            .cloned()
            .or_else(|| self.defaults.get(name).cloned())
            .unwrap_or(Value::Null)
    }

    /// The fields of several fields' selection sets (merged), on an object of a type that
    /// `applies` accepts.
    fn collect_all<'q>(
        &self,
        fields: &[&'q Positioned<QueryField>],
        applies: &dyn Fn(&str) -> Option<bool>,
    ) -> Option<Collected<'q>>
    where
        'a: 'q,
    {
        let mut collected = Collected::new();
        let mut visited = HashSet::new();
        for field in fields {
            self.collect_into(
                &field.node.selection_set.node,
                applies,
                &mut collected,
                &mut visited,
            )?;
        }
        Some(collected)
    }

    fn collect<'q>(
        &self,
        set: &'q SelectionSet,
        applies: &dyn Fn(&str) -> Option<bool>,
    ) -> Option<Collected<'q>>
    where
        'a: 'q,
    {
        let mut collected = Collected::new();
        self.collect_into(set, applies, &mut collected, &mut HashSet::new())?;
        Some(collected)
    }

    fn collect_into<'q>(
        &self,
        set: &'q SelectionSet,
        applies: &dyn Fn(&str) -> Option<bool>,
        collected: &mut Collected<'q>,
        visited: &mut HashSet<&'q str>,
    ) -> Option<()>
    where
        'a: 'q,
    {
        for selection in &set.items {
            if !self.included(selection.node.directives())? {
                continue;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let key = field
                        .node
                        .alias
                        .as_ref()
                        .map_or(&field.node.name.node, |a| &a.node)
                        .clone();
                    match collected.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, fields)) => fields.push(field),
                        None => collected.push((key, vec![field])),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if !visited.insert(name) {
                        continue;
                    }
                    let fragment = &self.fragments.get(name)?.node;
                    if applies(fragment.type_condition.node.on.node.as_str())? {
                        let set = &fragment.selection_set.node;
                        self.collect_into(set, applies, collected, visited)?;
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let applies_here = match &fragment.type_condition {
                        Some(condition) => applies(condition.node.on.node.as_str())?,
                        None => true,
                    };
                    if applies_here {
                        let set = &fragment.selection_set.node;
                        self.collect_into(set, applies, collected, visited)?;
                    }
                }
            }
        }
        Some(())
    }

    /// Whether `@skip` and `@include` keep a selection; `None` for any other directive.
    fn included(
        &self,
        directives: &[Positioned<async_graphql::parser::types::Directive>],
    ) -> Option<bool> {
        let mut keep = true;
        for directive in directives {
            let condition = directive.node.get_argument("if")?;
            let value = condition
                .node
                .clone()
                .into_const_with(|variable| Ok::<_, ()>(self.variable(&variable)))
                .ok()?;
            let Value::Boolean(flag) = value else {
                return None;
            };
            match directive.node.name.node.as_str() {
                "skip" => keep &= !flag,
                "include" => keep &= flag,
                _ => return None,
            }
        }
        Some(keep)
    }
}

/// Fragments apply on exactly this type (any other condition is not compiled).
fn exactly(name: &str) -> impl Fn(&str) -> Option<bool> + '_ {
    move |t| (t == name).then_some(true)
}
