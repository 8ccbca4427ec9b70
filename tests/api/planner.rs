//! The read planner against the executor: the class of queries over records, generated from
//! the schema as a client reads it (introspection) — every record type reachable from the
//! top-level lists and `node`, their fields, texts with and without `locale`, nested lists
//! with every paging direction and cursors the API handed out, references, filters on
//! enumerations, every order and direction, aliases, fragments, `__typename`, `@skip` and
//! `@include`, nested to the depth limit — asked as anonymous, partner, editor and admin in
//! several languages. Each query is sent twice, compiled and with `x-stroom-compile: false`
//! (a JSON POST, or a GET with a compressed answer), and both answers must be the same
//! (status, data and errors, key order included).
//!
//! `STROOM_PLANNER_CASES` (default 240) and `STROOM_PLANNER_SEED` (default 1) run more or
//! other cases; a failure prints its seed and case, which `STROOM_PLANNER_ONLY` replays.
use std::collections::HashMap;

use serde_json::{Value, json};
use stroom_seed::Scale;

use crate::helpers::*;

/// A small data set over the demo data: enough rows for pages, cursors and empty lists.
const SCALE: Scale = Scale {
    municipalities: 2,
    organisations: 12,
    needs: 60,
    initiatives: 40,
    outcomes: 120,
    learnings: 20,
};

const INTROSPECTION: &str = "{ __schema { queryType { name } types { name kind
    fields { name args { name type { ...T } } type { ...T } }
    inputFields { name type { ...T } } enumValues { name } } } }
  fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// The deepest nesting of objects a generated query reaches (the server allows more).
const MAX_DEPTH: usize = 5;

/// A small deterministic generator (xorshift), so a seed names a case.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A type reference, unwrapped: its named type and whether a list or non-null wraps it.
#[derive(Clone, Debug)]
struct TypeRef {
    name: String,
    list: bool,
    required: bool,
}

fn type_ref(value: &Value) -> TypeRef {
    let mut node = value;
    let mut list = false;
    let required = value["kind"] == "NON_NULL";
    while node["name"].is_null() {
        if node["kind"] == "LIST" {
            list = true;
        }
        node = &node["ofType"];
    }
    TypeRef {
        name: node["name"].as_str().unwrap_or_default().to_owned(),
        list,
        required,
    }
}

struct Field {
    name: String,
    ty: TypeRef,
    args: Vec<(String, TypeRef)>,
}

struct Schema {
    fields: HashMap<String, Vec<Field>>,
    inputs: HashMap<String, Vec<(String, TypeRef)>>,
    enums: HashMap<String, Vec<String>>,
}

impl Schema {
    fn read(introspection: &Value) -> Self {
        let mut schema = Schema {
            fields: HashMap::new(),
            inputs: HashMap::new(),
            enums: HashMap::new(),
        };
        for ty in introspection["__schema"]["types"]
            .as_array()
            .expect("types")
        {
            let name = ty["name"].as_str().unwrap_or_default().to_owned();
            if let Some(fields) = ty["fields"].as_array() {
                let fields = fields
                    .iter()
                    .map(|f| Field {
                        name: f["name"].as_str().unwrap_or_default().to_owned(),
                        ty: type_ref(&f["type"]),
                        args: f["args"]
                            .as_array()
                            .map(|args| {
                                args.iter()
                                    .map(|a| {
                                        (
                                            a["name"].as_str().unwrap_or_default().to_owned(),
                                            type_ref(&a["type"]),
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect();
                schema.fields.insert(name.clone(), fields);
            }
            if let Some(inputs) = ty["inputFields"].as_array() {
                let inputs = inputs
                    .iter()
                    .map(|f| {
                        (
                            f["name"].as_str().unwrap_or_default().to_owned(),
                            type_ref(&f["type"]),
                        )
                    })
                    .collect();
                schema.inputs.insert(name.clone(), inputs);
            }
            if let Some(values) = ty["enumValues"].as_array() {
                let values = values
                    .iter()
                    .filter_map(|v| v["name"].as_str().map(str::to_owned))
                    .collect();
                schema.enums.insert(name, values);
            }
        }
        schema
    }

    /// The top-level lists: root fields giving a connection, with `filter` and `orderBy`.
    fn root_lists(&self) -> Vec<&Field> {
        self.fields["Query"]
            .iter()
            .filter(|f| {
                f.ty.name.ends_with("Connection")
                    && f.args.iter().any(|(a, _)| a == "filter")
                    && f.args.iter().any(|(a, _)| a == "orderBy")
            })
            .collect()
    }
}

/// Writes one query: its text and the variables it uses.
struct Writer<'a> {
    schema: &'a Schema,
    rng: Rng,
    cursors: &'a HashMap<String, Vec<String>>,
    ids: &'a [String],
    variables: serde_json::Map<String, Value>,
    declarations: Vec<String>,
    fragments: Vec<String>,
    /// Each top-level list's response key, with the pool its cursors go to.
    roots: Vec<(String, String)>,
}

impl Writer<'_> {
    fn query(&mut self, lists: &[&Field]) -> String {
        let mut roots = Vec::new();
        for at in 0..1 + self.rng.below(2) {
            let aliased = at > 0 || self.rng.chance(15);
            let alias = if aliased {
                format!("r{at}: ")
            } else {
                String::new()
            };
            if self.rng.chance(8) && !self.ids.is_empty() {
                // Several records by ID, of whatever types, each type with fields of its own.
                let mut ids = Vec::new();
                let mut fragments = Vec::new();
                for _ in 0..1 + self.rng.below(3) {
                    let id = self.rng.pick(self.ids).clone();
                    let ty = self.type_of_id(&id);
                    if !fragments
                        .iter()
                        .any(|f: &String| f.starts_with(&format!("... on {ty} ")))
                    {
                        let fields = self.object(&ty, 1);
                        fragments.push(format!("... on {ty} {{ {fields} }}"));
                    }
                    ids.push(json!(id));
                }
                let argument = self.value_or_variable("[ID!]!", json!(ids));
                roots.push(format!(
                    "{alias}nodes(ids: {argument}) {{ id {} }}",
                    fragments.join(" ")
                ));
            } else if self.rng.chance(25) && !self.ids.is_empty() {
                let id = self.rng.pick(self.ids).clone();
                let argument = self.value_or_variable("ID!", json!(id));
                let ty = self.type_of_id(&id);
                let fields = self.object(&ty, 1);
                let typename = if self.rng.chance(30) {
                    "__typename "
                } else {
                    ""
                };
                roots.push(format!(
                    "{alias}node(id: {argument}) {{ {typename}id ... on {ty} {{ {fields} }} }}"
                ));
            } else {
                let list = *self.rng.pick(lists);
                let order = self.order(list);
                // Cursors are of one list and its order: a root list's by its order, nested
                // lists' by their type (they have one order).
                let pool = format!("{}|{}", list.ty.name, order.as_deref().unwrap_or("default"));
                let key = if aliased {
                    format!("r{at}")
                } else {
                    list.name.clone()
                };
                self.roots.push((key, pool.clone()));
                let mut args = self.page_arguments(&pool);
                if let Some(filter) = self.filter(list) {
                    args.push(filter);
                }
                if let Some(order) = order {
                    args.push(order);
                }
                let connection = self.connection(&list.ty.name, 1);
                roots.push(format!(
                    "{alias}{}{} {{ {connection} }}",
                    list.name,
                    arguments(&args)
                ));
            }
        }
        let declarations = if self.declarations.is_empty() {
            String::new()
        } else {
            format!("({})", self.declarations.join(", "))
        };
        format!(
            "query Case{declarations} {{ {} }} {}",
            roots.join(" "),
            self.fragments.join(" ")
        )
    }

    fn type_of_id(&self, id: &str) -> String {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id)
            .expect("a global ID");
        let text = String::from_utf8(decoded).expect("a global ID");
        text.split(':').next().unwrap_or_default().to_owned()
    }

    /// A literal, or (sometimes) a variable holding it.
    fn value_or_variable(&mut self, ty: &str, value: Value) -> String {
        if self.rng.chance(40) {
            let name = format!("v{}", self.declarations.len());
            self.declarations.push(format!("${name}: {ty}"));
            self.variables.insert(name.clone(), value);
            format!("${name}")
        } else {
            literal(&value)
        }
    }

    /// The Relay arguments: none, or a window in either direction, maybe from a cursor the
    /// API gave for this kind of list.
    fn page_arguments(&mut self, pool: &str) -> Vec<String> {
        let cursor = |writer: &mut Self| -> Option<String> {
            // Now and then a cursor of another list, which the list refuses.
            let pool = if writer.rng.chance(10) {
                writer.cursors.values().next()?
            } else {
                writer.cursors.get(pool)?
            };
            (!pool.is_empty()).then(|| writer.rng.pick(pool).clone())
        };
        let size = |writer: &mut Self| -> i64 {
            *writer.rng.pick(&[0, 1, 2, 3, 5, 8, 20, 1, 2, 3, 5, 101])
        };
        let mut args = Vec::new();
        match self.rng.below(7) {
            0 | 1 => {}
            2 => {
                let n = size(self);
                args.push(format!(
                    "first: {}",
                    self.value_or_variable("Int", json!(n))
                ));
            }
            3 => {
                let n = size(self);
                args.push(format!("last: {}", self.value_or_variable("Int", json!(n))));
            }
            4 => {
                let n = size(self);
                args.push(format!("first: {n}"));
                if let Some(c) = cursor(self) {
                    args.push(format!(
                        "after: {}",
                        self.value_or_variable("String", json!(c))
                    ));
                }
            }
            5 => {
                let n = size(self);
                args.push(format!("last: {n}"));
                if let Some(c) = cursor(self) {
                    args.push(format!(
                        "before: {}",
                        self.value_or_variable("String", json!(c))
                    ));
                }
            }
            _ => {
                if let Some(c) = cursor(self) {
                    let side = if self.rng.chance(50) {
                        "after"
                    } else {
                        "before"
                    };
                    args.push(format!("{side}: {}", literal(&json!(c))));
                }
            }
        }
        args
    }

    /// Criteria on enumerations and archived records (the lists' own filters have tests of
    /// their own; here they shape which records the page holds).
    fn filter(&mut self, list: &Field) -> Option<String> {
        if !self.rng.chance(50) {
            return None;
        }
        let (_, ty) = list.args.iter().find(|(a, _)| a == "filter")?;
        let inputs = self.schema.inputs.get(&ty.name)?;
        let mut criteria = Vec::new();
        for (name, input) in inputs {
            if input.list && self.schema.enums.contains_key(&input.name) && self.rng.chance(40) {
                let values = &self.schema.enums[&input.name];
                let chosen: Vec<String> = (0..1 + self.rng.below(2))
                    .map(|_| self.rng.pick(values).clone())
                    .collect();
                criteria.push(format!("{name}: [{}]", chosen.join(", ")));
            }
            if name == "includeArchived" && self.rng.chance(20) {
                criteria.push("includeArchived: true".to_owned());
            }
        }
        Some(format!("filter: {{ {} }}", criteria.join(", ")))
    }

    fn order(&mut self, list: &Field) -> Option<String> {
        if !self.rng.chance(60) {
            return None;
        }
        let (_, ty) = list.args.iter().find(|(a, _)| a == "orderBy")?;
        let inputs = self.schema.inputs.get(&ty.name)?;
        let (_, field) = inputs.iter().find(|(n, _)| n == "field")?;
        let value = self.rng.pick(&self.schema.enums[&field.name]).clone();
        let direction = if self.rng.chance(50) { "ASC" } else { "DESC" };
        Some(format!(
            "orderBy: {{ field: {value}, direction: {direction} }}"
        ))
    }

    /// What is asked of a connection.
    fn connection(&mut self, connection: &str, depth: usize) -> String {
        let node = connection.trim_end_matches("Connection").to_owned();
        let mut parts = Vec::new();
        if self.rng.chance(30) {
            parts.push("totalCount".to_owned());
        }
        if self.rng.chance(50) {
            let info = [
                "hasNextPage",
                "hasPreviousPage",
                "startCursor",
                "endCursor",
                "__typename",
            ];
            let chosen: Vec<&str> = info
                .iter()
                .copied()
                .filter(|_| self.rng.chance(60))
                .collect();
            let chosen = if chosen.is_empty() {
                vec!["hasNextPage"]
            } else {
                chosen
            };
            parts.push(format!("pageInfo {{ {} }}", chosen.join(" ")));
        }
        if self.rng.chance(70) {
            let fields = self.object(&node, depth + 1);
            parts.push(format!("nodes {{ {fields} }}"));
        }
        if parts.is_empty() || self.rng.chance(35) {
            let fields = self.object(&node, depth + 1);
            let cursor = if self.rng.chance(80) { "cursor " } else { "" };
            parts.push(format!("edges {{ {cursor}node {{ {fields} }} }}"));
        }
        // Always: the answer names the connection, so its cursors are kept for this kind of
        // list (and it is a field the planner answers too).
        parts.push("__typename".to_owned());
        parts.join(" ")
    }

    /// Some fields of a record type, nested below `depth` where there is room.
    fn object(&mut self, ty: &str, depth: usize) -> String {
        let Some(fields) = self.schema.fields.get(ty) else {
            return "__typename".to_owned();
        };
        let mut chosen = Vec::new();
        for field in fields {
            // Required arguments are the executor's own business (search, series); when a key
            // was last used changes with every request.
            if field.args.iter().any(|(_, t)| t.required) || field.name == "lastUsedAt" {
                continue;
            }
            let nested = self.schema.fields.contains_key(&field.ty.name);
            let record = self
                .schema
                .fields
                .get(&field.ty.name)
                .is_some_and(|f| f.iter().any(|f| f.name == "id"));
            // Mostly what reads of records ask for; now and then anything else the type has
            // (translations, history, origin), which the executor answers.
            let here = match (nested, record || field.ty.name.ends_with("Connection")) {
                (false, _) => 30,
                (true, true) => 30usize.saturating_sub(5 * depth) as u64,
                (true, false) => 3,
            };
            if !self.rng.chance(here) {
                continue;
            }
            let alias = if self.rng.chance(10) {
                format!("a{}: ", self.rng.below(1000))
            } else {
                String::new()
            };
            let directive = match self.rng.below(20) {
                0 => " @skip(if: true)",
                1 => " @include(if: false)",
                2 => " @include(if: true)",
                _ => "",
            };
            let mut args = Vec::new();
            if field.args.iter().any(|(a, _)| a == "locale") && self.rng.chance(40) {
                let locale = *self.rng.pick(&[
                    "nl",
                    "en",
                    "fr",
                    "de",
                    "es",
                    "nl",
                    "en",
                    "fr",
                    "zz",
                    "not a locale",
                ]);
                args.push(format!("locale: {}", literal(&json!(locale))));
            }
            if field.args.iter().any(|(a, _)| a == "roles") && self.rng.chance(40) {
                let role = self
                    .rng
                    .pick(&["FUNDER", "COORDINATOR", "MEMBER", "PARTNER"])
                    .to_string();
                if self
                    .schema
                    .enums
                    .get("PartnerRole")
                    .is_some_and(|v| v.contains(&role))
                {
                    args.push(format!("roles: [{role}]"));
                }
            }
            let text = if !nested {
                format!("{alias}{}{}{directive}", field.name, arguments(&args))
            } else if depth >= MAX_DEPTH {
                continue;
            } else if field.ty.name.ends_with("Connection") {
                args.extend(self.page_arguments(&format!("{}|nested", field.ty.name)));
                let inner = self.connection(&field.ty.name, depth);
                format!(
                    "{alias}{}{}{directive} {{ {inner} }}",
                    field.name,
                    arguments(&args)
                )
            } else {
                let inner = self.object(&field.ty.name, depth + 1);
                format!(
                    "{alias}{}{}{directive} {{ {inner} }}",
                    field.name,
                    arguments(&args)
                )
            };
            chosen.push(text);
        }
        if self.rng.chance(10) {
            chosen.push("__typename".to_owned());
        }
        if self.rng.chance(10) && !chosen.is_empty() {
            // The same fields again, through a fragment: merged, not repeated.
            let name = format!("F{}", self.fragments.len());
            self.fragments.push(format!(
                "fragment {name} on {ty} {{ {} }}",
                chosen.join(" ")
            ));
            chosen.push(format!("...{name}"));
        }
        if chosen.is_empty() {
            chosen.push("id".to_owned());
            if !fields.iter().any(|f| f.name == "id") {
                return "__typename".to_owned();
            }
        }
        chosen.join(" ")
    }
}

fn arguments(args: &[String]) -> String {
    if args.is_empty() {
        String::new()
    } else {
        format!("({})", args.join(", "))
    }
}

fn literal(value: &Value) -> String {
    value.to_string()
}

/// The cursors and IDs of an answer: a top-level list's go to its pool, nested lists' to
/// their type's.
fn harvest_answer(
    data: &Value,
    roots: &[(String, String)],
    cursors: &mut HashMap<String, Vec<String>>,
    ids: &mut Vec<String>,
) {
    let Value::Object(map) = data else { return };
    for (key, value) in map {
        match roots.iter().find(|(k, _)| k == key) {
            Some((_, pool)) => {
                if let Value::Object(connection) = value {
                    for (part, inner) in connection {
                        if part == "pageInfo" || part == "edges" {
                            collect_cursors(inner, pool, cursors);
                        }
                        if part == "nodes" || part == "edges" {
                            harvest(inner, None, cursors, ids);
                        }
                    }
                }
            }
            None => harvest(value, None, cursors, ids),
        }
    }
}

/// The cursors right in a connection's `pageInfo` or `edges` (not in nested lists).
fn collect_cursors(value: &Value, pool: &str, cursors: &mut HashMap<String, Vec<String>>) {
    let mut add = |text: &str| {
        let pool = cursors.entry(pool.to_owned()).or_default();
        if pool.len() < 50 && !pool.iter().any(|p| p == text) {
            pool.push(text.to_owned());
        }
    };
    match value {
        Value::Object(info) => {
            for key in ["startCursor", "endCursor"] {
                if let Some(text) = info.get(key).and_then(Value::as_str) {
                    add(text);
                }
            }
        }
        Value::Array(edges) => {
            for edge in edges {
                if let Some(text) = edge.get("cursor").and_then(Value::as_str) {
                    add(text);
                }
            }
        }
        _ => {}
    }
}

/// The cursors and IDs an answer holds, for later cases to page and fetch from.
fn harvest(
    value: &Value,
    connection: Option<&str>,
    cursors: &mut HashMap<String, Vec<String>>,
    ids: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if let (Some(c), Some(text)) = (connection, inner.as_str())
                    && (key == "cursor" || key == "endCursor" || key == "startCursor")
                {
                    let pool = cursors.entry(format!("{c}|nested")).or_default();
                    if pool.len() < 50 && !pool.iter().any(|p| p == text) {
                        pool.push(text.to_owned());
                    }
                }
                if key == "id"
                    && let Some(id) = inner.as_str()
                    && ids.len() < 200
                    && !ids.iter().any(|i| i == id)
                {
                    ids.push(id.to_owned());
                }
                let typename = map.get("__typename").and_then(Value::as_str);
                let next = match typename {
                    Some(t) if t.ends_with("Connection") => Some(t),
                    _ => connection,
                };
                harvest(inner, next, cursors, ids);
            }
        }
        Value::Array(items) => {
            for item in items {
                harvest(item, connection, cursors, ids);
            }
        }
        _ => {}
    }
}

/// What a client compares: the status, the data and the errors (the extensions carry the
/// caller's budget, which changes with every request). Errors are compared as a set: the
/// executor lists them in the order its resolvers met them, which varies from run to run.
fn answer(reply: &Reply) -> String {
    let mut body = reply.body.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("extensions");
        if let Some(Value::Array(errors)) = map.get_mut("errors") {
            errors.sort_by_key(|e| e.to_string());
        }
    }
    format!("{} {}", reply.status, body)
}

/// A query as a client sends it: a JSON POST, or a GET with its variables in the address
/// and a compressed answer (as a browser or a CDN-fronted app reads it).
async fn ask(
    app: &TestApp,
    key: Option<&str>,
    language: &str,
    (query, variables): (&str, &Value),
    get: bool,
    compile: bool,
) -> Reply {
    let mut request = if get {
        app.client
            .get(app.url("/graphql"))
            .query(&[("query", query), ("variables", &variables.to_string())])
            .header("accept-encoding", "gzip")
    } else {
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .json(&json!({"query": query, "variables": variables}))
    };
    request = request
        .header("accept", ACCEPT)
        .header("accept-language", language);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if !compile {
        request = request.header("x-stroom-compile", "false");
    }
    let response = request.send().await.expect("the server answers");
    TestApp::reply(response).await
}

#[tokio::test]
async fn compiled_reads_answer_as_the_executor_does() {
    let app = spawn_generated(SCALE, |serve| {
        serve.response_cache_entries = 0;
        serve.result_cache_entries = 0;
    })
    .await;
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let cases = env("STROOM_PLANNER_CASES", 240);
    let seed = env("STROOM_PLANNER_SEED", 1);
    let only = std::env::var("STROOM_PLANNER_ONLY")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());

    let introspection = app.graphql(INTROSPECTION, json!({})).await;
    let schema = Schema::read(introspection.ok());
    let lists = schema.root_lists();
    assert!(lists.len() >= 10, "top-level lists: {}", lists.len());

    let partner = app.partner_key().await;
    let editor = app.editor_key("planner", "Mechelen").await;
    let admin = app.admin_key().await;
    let callers: [(&str, Option<&str>); 4] = [
        ("anonymous", None),
        ("partner", Some(&partner)),
        ("editor", Some(&editor)),
        ("admin", Some(&admin)),
    ];
    let languages = ["nl", "en", "fr, nl;q=0.8", "de-DE", "*"];

    let mut cursors: HashMap<String, Vec<String>> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();
    let (mut compiled, mut failed) = (0u64, Vec::new());
    for case in 0..cases {
        let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(case));
        let (who, key) = callers[rng.below(callers.len())];
        let language = *rng.pick(&languages);
        let mut writer = Writer {
            schema: &schema,
            rng,
            cursors: &cursors,
            ids: &ids,
            variables: serde_json::Map::new(),
            declarations: Vec::new(),
            fragments: Vec::new(),
            roots: Vec::new(),
        };
        let query = writer.query(&lists);
        let roots = writer.roots;
        let variables = Value::Object(writer.variables);
        if only.is_some_and(|o| o != case) {
            continue;
        }
        // The executor first: a document is compiled once the executor has validated it.
        // A third of the cases as GET requests with compressed answers.
        let get = case % 3 == 2;
        let request = (query.as_str(), &variables);
        let executed = ask(&app, key, language, request, get, false).await;
        let planned = ask(&app, key, language, request, get, true).await;
        let was_compiled = planned.compiled;
        if was_compiled {
            compiled += 1;
            // (A key's own check adds its statements.)
            if key.is_none() {
                assert_eq!(
                    planned.statements, 1,
                    "a compiled read runs one statement: {query}"
                );
            }
        }
        let (a, b) = (answer(&planned), answer(&executed));
        if a != b {
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            let around = |s: &str| {
                let start = s.floor_char_boundary(at.saturating_sub(300));
                let end = s.ceil_char_boundary((at + 300).min(s.len()));
                s[start..end].to_owned()
            };
            failed.push(format!(
                "seed {seed} case {case} ({who}, {language}, GET: {get}, compiled: {was_compiled}):\n{query}\nvariables: {variables}\ncompiled: …{}…\nexecutor: …{}…",
                around(&a),
                around(&b)
            ));
            if failed.len() >= 3 {
                break;
            }
        }
        harvest_answer(&executed.body["data"], &roots, &mut cursors, &mut ids);
    }
    assert!(
        failed.is_empty(),
        "{} differences:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
    println!("{compiled} of {cases} queries compiled, the others answered by the executor");
    if only.is_none() {
        // Not vacuous: a fifth at least of the generated queries are the planner's to answer (the
        // others ask for a field the executor answers — history, translations, a gated or
        // computed field — or for a page the list refuses).
        assert!(
            compiled * 5 >= cases,
            "only {compiled} of {cases} queries were compiled"
        );
    }
}

/// Cases the generated class found, kept: each is asked twice (the second time the document
/// is known valid and the planner may answer it) and answered alike.
#[tokio::test]
async fn compiled_reads_keep_the_cases_found() {
    // Whole answers are not kept, so that each request is answered anew.
    let app = spawn_configured(true, |serve| serve.response_cache_entries = 0).await;
    let cases = [
        // Every field of an object skipped: the executor answers null for it.
        "{ municipalities(first: 1) { nodes { households @skip(if: true) } } }",
        // Two fields under one response key: a validation error, never an answer.
        "{ outcomes(first: 2) { nodes { a: indicator { id } a: value } } }",
        // A fragment on a type the list's records can never be.
        "{ themes(first: 2) { nodes { code ... on Need { title } } } }",
        // A required variable left out.
        "query($id: ID!) { node(id: $id) { id } }",
        // A leaf with a selection.
        "{ themes(first: 1) { nodes { code { x } } } }",
    ];
    for query in cases {
        let first = app.graphql(query, json!({})).await;
        let second = app.graphql(query, json!({})).await;
        assert_eq!(answer(&second), answer(&first), "{query}");
        assert!(!second.compiled, "{query}: answered by the executor");
    }

    // The dashboard page: executed the first time, one statement after, the same answer.
    let dashboard = include_str!("../../bench/operations/dashboard.graphql");
    let executed = app.graphql(dashboard, json!({})).await;
    let compiled = app.graphql(dashboard, json!({})).await;
    assert!(!executed.compiled && compiled.compiled);
    assert_eq!((executed.statements, compiled.statements), (8, 1));
    assert_eq!(answer(&compiled), answer(&executed));

    // Turned off, nothing is compiled.
    let off = spawn_configured(true, |serve| {
        serve.compiled_reads = false;
        serve.response_cache_entries = 0;
    })
    .await;
    off.graphql(dashboard, json!({})).await.ok();
    let again = off.graphql(dashboard, json!({})).await;
    assert!(!again.compiled);
    assert_eq!(again.statements, 8);
}
