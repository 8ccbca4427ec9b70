//! The shells of the domain's GraphQL types, written from one line each.
//!
//! Every record type repeats the same resolvers (its global ID, each text in the request's
//! language with the locale served and every translation, nested Relay lists, references to
//! other records, the history and meta fields), and every mutation repeats the same frame (run
//! the change for the viewer, wrap the record, hand back the payload). An attribute placed
//! before async-graphql's `#[Object]` replaces the one-line declarations in the impl block
//! with those resolvers, in place, so the schema's field order is the declaration's order;
//! what is particular to a type stays an ordinary resolver beside them.
//!
//! Both attributes add async-graphql's `#[Object]`. In `#[record]` impls (`#[record(initiative)]`:
//! the type, declared with the impl's description, wraps a row of `initiative`; `#[query]`, the same, declares a root type such as
//! `NeedQuery`):
//! - `id!("initiative");` the global ID (`The global ID of the initiative.`);
//! - `/// doc` `text!(name: String, "Every translation of the name.");` `name`, `nameLocale`,
//!   `nameTranslations` (`Option<String>` for an optional text);
//! - `/// doc` `list!(outcomes: Outcome = initiative_id);` a nested list with the four Relay
//!   arguments, its items found by a column of their table (`= via initiative_theme(initiative_id
//!   -> theme_id)` through a link table; `list!(children: Area = parent_id, "areas")` where the
//!   items are not named by the field; `, where roles: Option<Vec<PartnerRole>> by
//!   PartnerRole::only, "Only partners with these roles."` adds an argument of its own, before the
//!   Relay ones, that a function turns into the list's restriction);
//! - `/// doc` `reference!(municipality: Municipality = municipality_id);` another record by
//!   its ID column (`Option<T>` when the column is nullable);
//! - `history!();` the flattened `history` and record meta fields;
//! - `origin!("learning");` where a copy of a followed instance's record comes from;
//! - `/// doc` `records!(needs: Need, NeedFilter, NeedOrder = "most recently recorded first");`
//!   a top-level list with the Relay arguments, `filter` (`ListFilter`) and `orderBy`
//!   (`ListOrder`).
//!
//! In `#[mutations]` impls (which declare their root type, such as `NeedMutation`):
//! - `/// doc` `change!(create_need(input: CreateNeedInput = "The new need.") -> NeedPayload = create);`
//!   runs `create(write, input)` in the mutation frame (`= link_need(write, input, true)`
//!   for a call of its own);
//! - `/// doc` `archive!(archive_need(input = "The need and …") -> NeedPayload);` archives (or,
//!   named `unarchive…`, brings back) the payload's record; `archives!(need: NeedPayload, "a
//!   need")` both, with the usual descriptions; `updates!(need: NeedPayload, "a need")` the
//!   usual `updateNeed` (`UpdateNeedInput`, run by `update`).
//!
//! Beside them: `#[query]` (a root query type, declared with its fields), `#[filter]`,
//! `#[order]` and `#[update]` (a list's filter and order and an update's plain changes,
//! declared per field; see their files) and `registry!` (the domain's modules and kinds).
mod filter;
mod order;
mod plan;
mod registry;
mod update;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{
    Attribute, Expr, Ident, ImplItem, ItemImpl, LitStr, Token, Type, parenthesized,
    parse_macro_input,
};

/// Writes the resolvers a record type declares in one line each (see the crate's docs).
/// `#[record(initiative)]` also says the type wraps a row of that entity (`Wraps`).
#[proc_macro_attribute]
pub fn record(attr: TokenStream, item: TokenStream) -> TokenStream {
    let entity = if attr.is_empty() {
        None
    } else {
        Some(parse_macro_input!(attr as syn::Path))
    };
    let mut block = parse_macro_input!(item as ItemImpl);
    add_object(&mut block);
    let planned = match &entity {
        Some(entity) => match plan::record(&block, entity) {
            Ok(tokens) => tokens,
            Err(error) => return error.to_compile_error().into(),
        },
        None => quote!(),
    };
    let ty = &block.self_ty;
    let docs: Vec<&Attribute> = block
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let declared = match &entity {
        Some(entity) => quote! {
            #(#docs)*
            pub struct #ty(pub #entity::Model);

            impl crate::graphql::pagination::Wraps for #ty {
                type Entity = #entity::Entity;
                fn wrap(model: #entity::Model) -> Self {
                    Self(model)
                }
            }
        },
        None => quote!(),
    };
    let expanded: Tokens = expand(quote!(#block).into(), record_item).into();
    quote!(#declared #expanded #planned).into()
}

/// A root query type (`NeedQuery`) declared with its fields, as `#[record]` writes them.
#[proc_macro_attribute]
pub fn query(attr: TokenStream, item: TokenStream) -> TokenStream {
    let block = parse_macro_input!(item as ItemImpl);
    let ty = &block.self_ty;
    let roots = match plan::roots(&block) {
        Ok(tokens) => tokens,
        Err(error) => return error.to_compile_error().into(),
    };
    let expanded: Tokens = record(attr, quote!(#block).into()).into();
    quote! {
        #[derive(Default)]
        pub struct #ty;
        #expanded
        #roots
    }
    .into()
}

/// async-graphql's `#[Object]` on the impl, once.
fn add_object(block: &mut ItemImpl) {
    if !block.attrs.iter().any(|a| a.path().is_ident("Object")) {
        block
            .attrs
            .push(syn::parse_quote!(#[async_graphql::Object]));
    }
}

/// A list's order declared on its `…OrderField` enum (see `order.rs`).
#[proc_macro_attribute]
pub fn order(attr: TokenStream, item: TokenStream) -> TokenStream {
    order::expand(attr.into(), item.into())
        .unwrap_or_else(|error| error.to_compile_error())
        .into()
}

/// A list's filter declared on its `…Filter` input (see `filter.rs`).
#[proc_macro_attribute]
pub fn filter(attr: TokenStream, item: TokenStream) -> TokenStream {
    filter::expand(attr.into(), item.into())
        .unwrap_or_else(|error| error.to_compile_error())
        .into()
}

/// An update input's plain changes declared on its fields (see `update.rs`).
#[proc_macro_attribute]
pub fn update(attr: TokenStream, item: TokenStream) -> TokenStream {
    update::expand(attr.into(), item.into())
        .unwrap_or_else(|error| error.to_compile_error())
        .into()
}

/// The domain's modules and their kinds of record, one line each (see `registry.rs`).
#[proc_macro]
pub fn registry(item: TokenStream) -> TokenStream {
    registry::expand(item.into())
        .unwrap_or_else(|error| error.to_compile_error())
        .into()
}

/// Writes the mutations declared in one line each (see the crate's docs).
#[proc_macro_attribute]
pub fn mutations(_attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut block = parse_macro_input!(item as ItemImpl);
    add_object(&mut block);
    let ty = &block.self_ty;
    let expanded: Tokens = expand(quote!(#block).into(), mutation_item).into();
    quote! {
        #[derive(Default)]
        pub struct #ty;
        #expanded
    }
    .into()
}

type Expander = fn(&str, Tokens, Vec<Attribute>) -> syn::Result<Option<Tokens>>;

fn expand(item: TokenStream, expander: Expander) -> TokenStream {
    let mut block = parse_macro_input!(item as ItemImpl);
    let mut items = Vec::with_capacity(block.items.len());
    for item in std::mem::take(&mut block.items) {
        let ImplItem::Macro(call) = &item else {
            items.push(item);
            continue;
        };
        let name = call.mac.path.segments.last().map(|s| s.ident.to_string());
        match expander(
            name.as_deref().unwrap_or_default(),
            call.mac.tokens.clone(),
            call.attrs.clone(),
        ) {
            Ok(Some(tokens)) => match syn::parse2::<ItemImpl>(quote!(impl X { #tokens })) {
                Ok(generated) => items.extend(generated.items),
                Err(error) => return error.to_compile_error().into(),
            },
            Ok(None) => items.push(item),
            Err(error) => return error.to_compile_error().into(),
        }
    }
    block.items = items;
    quote!(#block).into()
}

fn record_item(name: &str, tokens: Tokens, docs: Vec<Attribute>) -> syn::Result<Option<Tokens>> {
    let wraps = quote!(<Self as crate::graphql::pagination::Wraps>::Entity);
    let kind = quote!(<#wraps as crate::kernel::record::Record>::KIND);
    Ok(Some(match name {
        "id" => {
            let noun: LitStr = syn::parse2(tokens)?;
            let doc = format!(" The global ID of the {}.", noun.value());
            quote! {
                #[doc = #doc]
                pub async fn id(&self) -> async_graphql::ID {
                    #kind.id(self.0.id)
                }
            }
        }
        "text" => {
            let TextField {
                field,
                ty,
                translations_doc,
            } = syn::parse2(tokens)?;
            let camel = camel_case(&field.to_string());
            let locale_fn = Ident::new(&format!("{field}_locale"), field.span());
            let translations_fn = Ident::new(&format!("{field}_translations"), field.span());
            let column = field.to_string();
            let locale_doc = format!(
                " The locale `{camel}` is served in, for the same `locale` argument: the first of the"
            );
            let locale_doc_end = " request's languages that it has, else a fallback's; null when it has no text at all.";
            let translations_doc = format!(" {}", translations_doc.value());
            let locale_arg = format!("The `locale` argument given to `{camel}`, if any.");
            let resolve = if is_option(&ty) {
                quote!(crate::graphql::text::optional_text)
            } else {
                quote!(crate::graphql::text::required_text)
            };
            quote! {
                #(#docs)*
                async fn #field(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #[graphql(
                        desc = "Locale of the text, such as `nl` or `en`; by default the request's `Accept-Language`."
                    )]
                    locale: Option<String>,
                ) -> async_graphql::Result<#ty> {
                    #resolve(ctx, &self.0.#field, locale)
                }

                #[doc = #locale_doc]
                #[doc = #locale_doc_end]
                async fn #locale_fn(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #[graphql(desc = #locale_arg)] locale: Option<String>,
                ) -> async_graphql::Result<Option<String>> {
                    crate::graphql::text::served_locale(ctx, &self.0.#field, locale)
                }

                #[doc = #translations_doc]
                async fn #translations_fn(&self) -> Vec<crate::graphql::text::Translation> {
                    crate::graphql::text::translations(&self.0.#field, #kind, self.0.id, #column)
                }
            }
        }
        "list" => {
            let Declared {
                field,
                ty,
                value,
                plural,
                only,
            } = syn::parse2(tokens)?;
            // The columns are the entity's own: a name that is not one does not build.
            let value = plan::link(&value, &ty);
            let words = plural.map_or_else(|| field.to_string().replace('_', " "), |p| p.value());
            let first = format!("Returns the first n {words}.");
            let after = format!("Returns the {words} after this cursor.");
            let last = format!("Returns the last n {words}.");
            let before = format!("Returns the {words} before this cursor.");
            // A list restricted by an argument of its own comes before the Relay arguments.
            let (only_argument, only_value, lint) = match only {
                Some(Only {
                    name,
                    ty,
                    convert,
                    desc,
                }) => (
                    quote!(#[graphql(desc = #desc)] #name: #ty,),
                    quote!(#convert(#name)),
                    quote!(#[allow(clippy::too_many_arguments)]),
                ),
                None => (quote!(), quote!(None), quote!()),
            };
            quote! {
                #(#docs)*
                #lint
                async fn #field(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #only_argument
                    #[graphql(desc = #first)] first: Option<i32>,
                    #[graphql(desc = #after)] after: Option<String>,
                    #[graphql(desc = #last)] last: Option<i32>,
                    #[graphql(desc = #before)] before: Option<String>,
                ) -> async_graphql::Result<crate::graphql::pagination::Connection<#ty>> {
                    crate::graphql::pagination::children_where(
                        ctx,
                        #value,
                        self.0.id,
                        #only_value,
                        crate::graphql::pagination::PageArgs::new(first, after, last, before),
                    )
                    .await
                }
            }
        }
        "records" => {
            let Records {
                field,
                ty,
                filter,
                order,
                default_order,
            } = syn::parse2(tokens)?;
            let words = field.to_string().replace('_', " ");
            let first = format!("Returns the first n {words} (at most 100).");
            let after = format!("Returns the {words} after this cursor.");
            let last = format!("Returns the last n {words} (at most 100).");
            let before = format!("Returns the {words} before this cursor.");
            let criteria = format!("Criteria the {words} must meet.");
            let order_doc = format!(
                "The order of the list (default: {}).",
                default_order.value()
            );
            quote! {
                #(#docs)*
                #[allow(clippy::too_many_arguments)]
                async fn #field(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #[graphql(desc = #first)] first: Option<i32>,
                    #[graphql(desc = #after)] after: Option<String>,
                    #[graphql(desc = #last)] last: Option<i32>,
                    #[graphql(desc = #before)] before: Option<String>,
                    #[graphql(desc = #criteria)] filter: Option<#filter>,
                    #[graphql(desc = #order_doc)] order_by: Option<#order>,
                ) -> async_graphql::Result<crate::graphql::pagination::Connection<#ty>> {
                    crate::graphql::pagination::filtered(
                        ctx,
                        filter.unwrap_or_default(),
                        order_by,
                        crate::graphql::pagination::PageArgs::new(first, after, last, before),
                    )
                    .await
                }
            }
        }
        "reference" => {
            let Declared {
                field, ty, value, ..
            } = syn::parse2(tokens)?;
            let Reach::Column(column) = value else {
                return Err(syn::Error::new(
                    field.span(),
                    "a reference names its ID column",
                ));
            };
            let body = match option_inner(&ty) {
                Some(inner) => {
                    quote!(crate::graphql::loader::reference::<#inner>(ctx, self.0.#column).await)
                }
                None => quote!(
                    crate::graphql::loader::required_reference::<#ty>(ctx, self.0.#column).await
                ),
            };
            quote! {
                #(#docs)*
                async fn #field(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<#ty> {
                    #body
                }
            }
        }
        "origin" => {
            let noun: LitStr = syn::parse2(tokens)?;
            let doc = format!(
                " Where the {} comes from when it is a copy of a record of an instance this one follows (null: it is this instance's own).",
                noun.value()
            );
            quote! {
                #[doc = #doc]
                async fn origin(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                ) -> async_graphql::Result<Option<crate::graphql::origin::Origin>> {
                    crate::graphql::origin::origin_of(
                        ctx,
                        <#wraps as crate::kernel::record::Table>::NAME,
                        self.0.id,
                    )
                    .await
                }
            }
        }
        "history" => quote! {
            #[graphql(flatten)]
            async fn history_field(&self) -> crate::domain::audit::RecordHistory {
                crate::domain::audit::RecordHistory::of(#kind, self.0.id)
            }

            #[graphql(flatten)]
            async fn meta(&self) -> crate::graphql::common::RecordMeta {
                crate::record_meta!(self.0)
            }
        },
        _ => return Ok(None),
    }))
}

fn mutation_item(name: &str, tokens: Tokens, docs: Vec<Attribute>) -> syn::Result<Option<Tokens>> {
    Ok(Some(match name {
        "change" => {
            let Change {
                mutation,
                input,
                input_doc,
                payload,
                change,
            } = syn::parse2(tokens)?;
            let api_name = camel_case(&mutation.to_string());
            // A function's path is called with the write and the input; a call is written
            // out with them (`link_need(write, input, true)`), and may use `?`.
            let change = match change {
                Expr::Call(call) => quote!(async move { #call.await }),
                other => quote!(#other(write, input)),
            };
            quote! {
                #(#docs)*
                async fn #mutation(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #[graphql(desc = #input_doc)] input: #input,
                ) -> async_graphql::Result<#payload> {
                    crate::graphql::mutation::respond(ctx, #api_name, move |write| {
                        Box::pin(#change)
                    })
                    .await
                }
            }
        }
        "archive" => {
            let Archive {
                mutation,
                input_doc,
                payload,
            } = syn::parse2(tokens)?;
            let api_name = camel_case(&mutation.to_string());
            let archived = !mutation.to_string().starts_with("unarchive");
            quote! {
                #(#docs)*
                async fn #mutation(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #[graphql(desc = #input_doc)] input: crate::graphql::input::ArchiveInput,
                ) -> async_graphql::Result<#payload> {
                    crate::graphql::mutation::archive_payload(ctx, #api_name, &input, #archived).await
                }
            }
        }
        "archives" => {
            let Archives {
                record,
                payload,
                noun,
                admin_only,
            } = syn::parse2(tokens)?;
            let noun = noun.value();
            let bare = noun
                .strip_prefix("an ")
                .or_else(|| noun.strip_prefix("a "))
                .unwrap_or(&noun);
            let (archive_doc, unarchive_doc) = if admin_only {
                (
                    format!(" Archives {noun}. Admin only."),
                    format!(" Brings an archived {bare} back. Admin only."),
                )
            } else {
                (
                    format!(" Archives {noun}: it leaves the lists but nothing is lost."),
                    format!(" Brings an archived {bare} back."),
                )
            };
            let input_doc = format!(
                "The {} and the version you last read.",
                record.to_string().replace('_', " ")
            );
            let archive = Ident::new(&format!("archive_{record}"), record.span());
            let unarchive = Ident::new(&format!("unarchive_{record}"), record.span());
            let mut both = Tokens::new();
            for (mutation, doc) in [(archive, archive_doc), (unarchive, unarchive_doc)] {
                let tokens = quote!(#mutation(input = #input_doc) -> #payload);
                if let Some(item) =
                    mutation_item("archive", tokens, vec![syn::parse_quote!(#[doc = #doc])])?
                {
                    both.extend(item);
                }
            }
            both
        }
        "updates" => {
            let Archives {
                record,
                payload,
                noun,
                admin_only,
            } = syn::parse2(tokens)?;
            let doc = format!(
                " Changes {}.{}",
                noun.value(),
                if admin_only { " Admin only." } else { "" }
            );
            let mutation = Ident::new(&format!("update_{record}"), record.span());
            let input = Ident::new(
                &format!("Update{}Input", upper_camel_case(&record.to_string())),
                record.span(),
            );
            let tokens = quote!(#mutation(input: #input = "The changes.") -> #payload = update);
            match mutation_item("change", tokens, vec![syn::parse_quote!(#[doc = #doc])])? {
                Some(item) => item,
                None => Tokens::new(),
            }
        }
        _ => return Ok(None),
    }))
}

/// `learning: LearningPayload, "a lesson"[, admin]`: archive and unarchive, with the
/// usual descriptions (`admin`: for admins only).
struct Archives {
    record: Ident,
    payload: Type,
    noun: LitStr,
    admin_only: bool,
}

impl Parse for Archives {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (record, payload) = field_and_type(input)?;
        input.parse::<Token![,]>()?;
        let noun = input.parse()?;
        let admin_only = flag(input, "admin")?;
        Ok(Self {
            record,
            payload,
            noun,
            admin_only,
        })
    }
}

/// `name: Type, "Every translation of the name."`
struct TextField {
    field: Ident,
    ty: Type,
    translations_doc: LitStr,
}

/// `name: Type`, the head of every field declaration.
fn field_and_type(input: ParseStream) -> syn::Result<(Ident, Type)> {
    let field = input.parse()?;
    input.parse::<Token![:]>()?;
    Ok((field, input.parse()?))
}

impl Parse for TextField {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (field, ty) = field_and_type(input)?;
        input.parse::<Token![,]>()?;
        let translations_doc = input.parse()?;
        Ok(Self {
            field,
            ty,
            translations_doc,
        })
    }
}

/// `name: Type = value`, for a list optionally `, "the items' plural"` (else the field's name).
struct Declared {
    field: Ident,
    ty: Type,
    value: Reach,
    plural: Option<LitStr>,
    only: Option<Only>,
}

/// `where roles: Option<Vec<PartnerRole>> by PartnerRole::only, "Only partners with these roles."`:
/// a nested list's own argument, turned into its restriction (`Option<Only>`) by a function.
struct Only {
    name: Ident,
    ty: Type,
    convert: Expr,
    desc: LitStr,
}

impl Parse for Declared {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (field, ty) = field_and_type(input)?;
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        let mut plural = None;
        let mut only = None;
        while input.parse::<Option<Token![,]>>()?.is_some() {
            if input.parse::<Option<Token![where]>>()?.is_some() {
                let (name, ty) = field_and_type(input)?;
                let by: Ident = input.parse()?;
                if by != "by" {
                    return Err(syn::Error::new(by.span(), "expected `by` and a function"));
                }
                let convert = Expr::Path(input.parse()?);
                input.parse::<Token![,]>()?;
                let desc = input.parse()?;
                only = Some(Only {
                    name,
                    ty,
                    convert,
                    desc,
                });
            } else {
                plural = Some(input.parse()?);
            }
        }
        Ok(Self {
            field,
            ty,
            value,
            plural,
            only,
        })
    }
}

/// `needs: Need, NeedFilter, NeedOrder = "most recently recorded first"`
struct Records {
    field: Ident,
    ty: Type,
    filter: Type,
    order: Type,
    default_order: LitStr,
}

impl Parse for Records {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (field, ty) = field_and_type(input)?;
        input.parse::<Token![,]>()?;
        let filter = input.parse()?;
        input.parse::<Token![,]>()?;
        let order = input.parse()?;
        input.parse::<Token![=]>()?;
        let default_order = input.parse()?;
        Ok(Self {
            field,
            ty,
            filter,
            order,
            default_order,
        })
    }
}

/// How a nested list reaches its rows, as written in `list!`: a column of the child's table
/// holding the parent's ID (`= initiative_id`), a link table's two columns
/// (`= via initiative_theme(initiative_id -> theme_id)`), or any `Link` expression.
enum Reach {
    Column(Ident),
    Via {
        table: Ident,
        parent: Ident,
        child: Ident,
    },
    Expr(Expr),
}

impl Parse for Reach {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let fork = input.fork();
        if let Ok(word) = fork.parse::<Ident>() {
            if fork.is_empty() || fork.peek(Token![,]) {
                input.parse::<Ident>()?;
                return Ok(Self::Column(word));
            }
            if word == "via" && fork.peek(Ident) {
                input.parse::<Ident>()?;
                let table = input.parse()?;
                let columns;
                parenthesized!(columns in input);
                let parent = columns.parse()?;
                columns.parse::<Token![->]>()?;
                let child = columns.parse()?;
                return Ok(Self::Via {
                    table,
                    parent,
                    child,
                });
            }
        }
        Ok(Self::Expr(input.parse()?))
    }
}

/// `snake_case` → `UpperCamelCase`, as SeaORM names a table's columns.
fn column_variant(column: &Ident) -> Ident {
    Ident::new(&upper_camel_case(&column.to_string()), column.span())
}

/// `create_need(input: CreateNeedInput = "The new need.") -> NeedPayload = create`
struct Change {
    mutation: Ident,
    input: Type,
    input_doc: LitStr,
    payload: Type,
    change: Expr,
}

impl Parse for Change {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (mutation, arguments) = mutation_head(input)?;
        arguments.parse::<Token![:]>()?;
        let input_type = arguments.parse()?;
        arguments.parse::<Token![=]>()?;
        let input_doc = arguments.parse()?;
        input.parse::<Token![->]>()?;
        let payload = input.parse()?;
        input.parse::<Token![=]>()?;
        let change = input.parse()?;
        Ok(Self {
            mutation,
            input: input_type,
            input_doc,
            payload,
            change,
        })
    }
}

/// `name(input …`: the mutation's name, and what its parentheses hold after `input`.
fn mutation_head(input: ParseStream<'_>) -> syn::Result<(Ident, syn::parse::ParseBuffer<'_>)> {
    let mutation = input.parse()?;
    let arguments;
    parenthesized!(arguments in input);
    let argument: Ident = arguments.parse()?;
    if argument != "input" {
        return Err(syn::Error::new(argument.span(), "the argument is `input`"));
    }
    Ok((mutation, arguments))
}

/// `archive_need(input = "The need and the version you last read.") -> NeedPayload`
struct Archive {
    mutation: Ident,
    input_doc: LitStr,
    payload: Type,
}

impl Parse for Archive {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (mutation, arguments) = mutation_head(input)?;
        arguments.parse::<Token![=]>()?;
        let input_doc = arguments.parse()?;
        input.parse::<Token![->]>()?;
        let payload = input.parse()?;
        Ok(Self {
            mutation,
            input_doc,
            payload,
        })
    }
}

/// `snake_case` → `camelCase`, as async-graphql names fields.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// An optional `, name` closing a declaration: whether it is there.
fn flag(input: ParseStream, name: &str) -> syn::Result<bool> {
    if input.parse::<Option<Token![,]>>()?.is_none() {
        return Ok(false);
    }
    let flag: Ident = input.parse()?;
    if flag != name {
        return Err(syn::Error::new(flag.span(), format!("expected `{name}`")));
    }
    Ok(true)
}

/// `snake_case` → `UpperCamelCase`, as types are named.
fn upper_camel_case(name: &str) -> String {
    let camel = camel_case(name);
    let mut chars = camel.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `snake_case` → `SCREAMING_SNAKE_CASE`, from `UpperCamelCase` as enum values are named.
fn screaming_snake(name: &str) -> String {
    snake_case(name).to_uppercase()
}

/// `UpperCamelCase` → `snake_case`, as tables are named after their record kinds.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (at, c) in name.chars().enumerate() {
        if c.is_uppercase() && at > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// `T` of `Wrapper<T>`.
fn wrapped<'a>(ty: &'a Type, wrapper: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != wrapper {
        return None;
    }
    let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    match arguments.args.first()? {
        syn::GenericArgument::Type(inner) => Some(inner),
        _ => None,
    }
}

fn option_inner(ty: &Type) -> Option<&Type> {
    wrapped(ty, "Option")
}

fn is_option(ty: &Type) -> bool {
    option_inner(ty).is_some()
}

#[cfg(test)]
mod tests {
    use super::{camel_case, screaming_snake, snake_case};

    #[test]
    fn enum_values_and_kinds_name_sort_keys_and_tables() {
        assert_eq!(screaming_snake("ResidentsCount"), "RESIDENTS_COUNT");
        assert_eq!(screaming_snake("Value"), "VALUE");
        assert_eq!(snake_case("Organisation"), "organisation");
        assert_eq!(snake_case("SupportRequest"), "support_request");
    }

    #[test]
    fn camel_case_names_fields_as_graphql_does() {
        assert_eq!(camel_case("create_contact_person"), "createContactPerson");
        assert_eq!(camel_case("name"), "name");
        assert_eq!(camel_case("funding_channel"), "fundingChannel");
    }
}
