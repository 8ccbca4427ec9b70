//! What a record type's declaration tells the read planner (`graphql/plan`): for each field,
//! how its value is read from the row, so that a query over records can be compiled into one
//! SQL statement instead of being resolved field by field.
//!
//! - `id!`, `text!` (the text and its `…Locale`), `list!` and `reference!` say it themselves;
//! - an ordinary resolver that takes only `&self` and whose body reads one column
//!   (`self.0.stage.into()`, `Date(self.0.recorded_on)`, `self.0.website.as_deref()`) is a
//!   *pure* field: the planner reads that column and runs the same body on it;
//! - anything else (a resolver with a context, arguments or attributes, the translations,
//!   history and origin fields) is left to the executor: a query that asks for it is not
//!   compiled.
use proc_macro2::{Group, TokenStream as Tokens, TokenTree};
use quote::quote;
use syn::{ImplItem, ImplItemFn, ItemImpl, ReturnType, Stmt, Type};

use crate::{Declared, Reach, Records, TextField, camel_case, column_variant, is_option};

/// `impl Plannable for T`: the compiled form of each field `T` declares.
pub fn record(block: &ItemImpl, entity: &syn::Path) -> syn::Result<Tokens> {
    let ty = &block.self_ty;
    let mut fields = Vec::new();
    for item in &block.items {
        match item {
            ImplItem::Macro(call) => {
                let name = call.mac.path.segments.last().map(|s| s.ident.to_string());
                let tokens = call.mac.tokens.clone();
                match name.as_deref() {
                    Some("id") => fields.push(quote!(crate::graphql::plan::Field::id())),
                    Some("text") => {
                        let TextField { field, ty, .. } = syn::parse2(tokens)?;
                        let api = camel_case(&field.to_string());
                        let locale = format!("{api}Locale");
                        let column = field.to_string();
                        let required = !is_option(&ty);
                        fields.push(
                            quote!(crate::graphql::plan::Field::text(#api, #column, #required)),
                        );
                        fields.push(
                            quote!(crate::graphql::plan::Field::text_locale(#locale, #column)),
                        );
                        let translations = format!("{api}Translations");
                        fields.push(quote!(crate::graphql::plan::Field::translations(
                            #translations,
                            #column
                        )));
                    }
                    Some("list") => {
                        let Declared {
                            field,
                            ty,
                            value,
                            only,
                            ..
                        } = syn::parse2(tokens)?;
                        let api = camel_case(&field.to_string());
                        let link = link(&value, &ty);
                        let only = match only {
                            Some(crate::Only {
                                name,
                                ty: argument,
                                convert,
                                ..
                            }) => {
                                let argument_name = camel_case(&name.to_string());
                                quote!(Some(crate::graphql::plan::OnlyArgument::new(
                                    #argument_name,
                                    |value| {
                                        let parsed = <#argument as async_graphql::InputType>::parse(value).ok()?;
                                        Some(#convert(parsed))
                                    }
                                )))
                            }
                            None => quote!(None),
                        };
                        fields.push(
                            quote!(crate::graphql::plan::Field::list::<#ty>(#api, #link, #only)),
                        );
                    }
                    Some("reference") => {
                        let Declared {
                            field, ty, value, ..
                        } = syn::parse2(tokens)?;
                        let Reach::Column(column) = value else {
                            continue;
                        };
                        let api = camel_case(&field.to_string());
                        let column = column.to_string();
                        let (target, required) = match crate::option_inner(&ty) {
                            Some(inner) => (inner.clone(), false),
                            None => (ty.clone(), true),
                        };
                        fields.push(quote!(crate::graphql::plan::Field::reference::<#target>(#api, #column, #required)));
                    }
                    Some("history") => fields.extend(meta(entity)),
                    _ => {}
                }
            }
            ImplItem::Fn(function) => {
                if let Some(field) = pure(function, entity) {
                    fields.push(field);
                }
            }
            _ => {}
        }
    }
    Ok(quote! {
        impl crate::graphql::plan::Plannable for #ty {
            fn fields() -> Vec<crate::graphql::plan::Field> {
                vec![#(#fields),*]
            }
        }
    })
}

/// The record meta fields `history!` adds (`record_meta!`), each a function of one column.
fn meta(entity: &syn::Path) -> Vec<Tokens> {
    let field = |api: &str, column: &str, value: Tokens| {
        let column_ident = syn::Ident::new(column, proc_macro2::Span::call_site());
        quote!(crate::graphql::plan::Field::pure(
            #api,
            #column,
            |row: &#entity::Model| &row.#column_ident,
            |column| #value,
        ))
    };
    let date_time = quote!(crate::graphql::scalars::DateTime);
    vec![
        field(
            "createdAt",
            "created_at",
            quote!(crate::graphql::plan::PlanValue::plan_value(#date_time(*column))),
        ),
        field(
            "updatedAt",
            "updated_at",
            quote!(crate::graphql::plan::PlanValue::plan_value(#date_time(*column))),
        ),
        field(
            "version",
            "version",
            quote!(crate::graphql::plan::PlanValue::plan_value(*column)),
        ),
        field(
            "archived",
            "archived_at",
            quote!(crate::graphql::plan::PlanValue::plan_value(
                column.is_some()
            )),
        ),
        field(
            "archivedAt",
            "archived_at",
            quote!(crate::graphql::plan::PlanValue::plan_value(column.map(#date_time))),
        ),
        field(
            "provenance",
            "provenance",
            quote!(async_graphql::resolver_utils::enum_value(
                crate::graphql::common::Provenance::from(*column)
            )),
        ),
    ]
}

/// `impl Roots for XQuery`: the top-level lists (`records!`) a root query type declares.
pub fn roots(block: &ItemImpl) -> syn::Result<Tokens> {
    let ty = &block.self_ty;
    let mut roots = Vec::new();
    for item in &block.items {
        let ImplItem::Macro(call) = item else {
            continue;
        };
        if !call.mac.path.is_ident("records") {
            continue;
        }
        let Records {
            field,
            ty: record,
            filter,
            order,
            ..
        } = syn::parse2(call.mac.tokens.clone())?;
        let api = camel_case(&field.to_string());
        roots.push(quote!(crate::graphql::plan::RootList::of::<#record, #filter, #order>(#api)));
    }
    Ok(quote! {
        impl crate::graphql::plan::Roots for #ty {
            fn lists() -> Vec<crate::graphql::plan::RootList> {
                vec![#(#roots),*]
            }
        }
    })
}

/// A nested list's link, as the resolver `list!` writes uses it.
pub fn link(value: &Reach, ty: &Type) -> Tokens {
    match value {
        Reach::Column(column) => {
            let variant = column_variant(column);
            quote!(crate::graphql::loader::Link::column(
                <<#ty as crate::graphql::pagination::Wraps>::Entity as sea_orm::EntityTrait>::Column::#variant
            ))
        }
        Reach::Via {
            table,
            parent,
            child,
        } => {
            let (parent, child) = (column_variant(parent), column_variant(child));
            quote!(crate::graphql::loader::Link::via(
                entity::#table::Column::#parent,
                entity::#table::Column::#child
            ))
        }
        Reach::Expr(expr) => quote!(#expr),
    }
}

/// A resolver whose answer is a function of one column of its row, as a planned field; `None`
/// for any other resolver. Its answer becomes a GraphQL value as a scalar's or an
/// enumeration's, whichever it is (`graphql::plan::Out`).
fn pure(function: &ImplItemFn, entity: &syn::Path) -> Option<Tokens> {
    let signature = &function.sig;
    if signature.asyncness.is_none()
        || signature.inputs.len() != 1
        || function.attrs.iter().any(|a| a.path().is_ident("graphql"))
    {
        return None;
    }
    let ReturnType::Type(_, ret) = &signature.output else {
        return None;
    };
    // Lists of values are left to the executor.
    if quote!(#ret)
        .into_iter()
        .any(|t| matches!(&t, TokenTree::Ident(i) if i == "Vec"))
    {
        return None;
    }
    let [Stmt::Expr(body, None)] = function.block.stmts.as_slice() else {
        return None;
    };
    let mut column = None;
    let body = replace_column(quote!(#body), &mut column)?;
    let column = column?;
    let api = camel_case(&signature.ident.to_string());
    let name = column.to_string();
    Some(quote!(crate::graphql::plan::Field::pure(
        #api,
        #name,
        |row: &#entity::Model| &row.#column,
        |column| {
            #[allow(unused_imports)]
            use crate::graphql::plan::{ViaEnum as _, ViaOptionalEnum as _, ViaScalar as _};
            let value: #ret = #body;
            (&&crate::graphql::plan::Out(value)).plan_value()
        },
    )))
}

/// The body with its one `self.0.column` replaced by `(*column)`, noting the column; `None`
/// when the body reads `self` otherwise or more than once.
fn replace_column(tokens: Tokens, column: &mut Option<syn::Ident>) -> Option<Tokens> {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut at = 0;
    while at < trees.len() {
        match &trees[at] {
            TokenTree::Ident(ident) if ident == "self" => {
                // `self . 0 . column`
                let field = match (
                    trees.get(at + 1),
                    trees.get(at + 2),
                    trees.get(at + 3),
                    trees.get(at + 4),
                ) {
                    (
                        Some(TokenTree::Punct(dot)),
                        Some(TokenTree::Literal(zero)),
                        Some(TokenTree::Punct(dot2)),
                        Some(TokenTree::Ident(field)),
                    ) if dot.as_char() == '.'
                        && zero.to_string() == "0"
                        && dot2.as_char() == '.' =>
                    {
                        field.clone()
                    }
                    _ => return None,
                };
                if column.is_some() {
                    return None;
                }
                *column = Some(field);
                out.extend(quote!((*column)));
                at += 5;
                continue;
            }
            TokenTree::Ident(ident) if ident == "await" || ident == "ctx" => return None,
            TokenTree::Group(group) => {
                let inner = replace_column(group.stream(), column)?;
                let mut replaced = Group::new(group.delimiter(), inner);
                replaced.set_span(group.span());
                out.push(TokenTree::Group(replaced));
            }
            other => out.push(other.clone()),
        }
        at += 1;
    }
    Some(out.into_iter().collect())
}
