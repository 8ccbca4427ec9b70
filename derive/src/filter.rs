//! `#[filter(need)]` on a list's `…Filter` input: the input's GraphQL derive, the criteria
//! every list has (flattened last), and its `ListFilter` impl, each field's criterion declared
//! on the field itself and applied in the order of the fields:
//! - `#[by(references(programme_id, Programme))]`: one of these records, by an ID column;
//! - `#[by(subtree(area_id, Area))]`: one of these records of a nested table, or one below;
//! - `#[by(linked(initiative_need, Need))]`: linked through a link table (its columns named
//!   after the two tables) to one of these records; `#[by(linked(initiative_theme, Theme,
//!   tree))]` to one of them or one below it, for a nested table;
//! - `#[by(one_of(stage))]`: an enumeration column, any of the values;
//! - `#[by(any_of(code))]`, `#[by(any_of(country, upper))]`: a text column, any of the values;
//! - `#[by(date_range(start_date))]`, `#[by(equals(verified))]`,
//!   `#[by(is_null(parent_id))]` (true: without one; false: with one);
//! - `#[by(search)]`: the folded text of the table; `#[by(search(Theme, theme_id))]` or
//!   `#[by(search(Theme, initiative_theme))]` also what a matching theme (or one below it) covers;
//! - `#[by(with = function)]`: `function(&mut Filter, request, &value) -> Result<(), ApiError>`
//!   for a criterion particular to the type.
//!
//! `#[filter(learning, base = visible)]` starts from `visible(request)` instead of the whole table.
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Fields, Ident, ItemStruct, Token, Type};

use crate::{camel_case, column_variant, option_inner, snake_case, wrapped};

struct FilterArgs {
    entity: Ident,
    base: Option<syn::Path>,
}

impl Parse for FilterArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let entity = input.parse()?;
        let mut base = None;
        if input.parse::<Option<Token![,]>>()?.is_some() {
            let key: Ident = input.parse()?;
            if key != "base" {
                return Err(syn::Error::new(key.span(), "expected `base = function`"));
            }
            input.parse::<Token![=]>()?;
            base = Some(input.parse()?);
        }
        Ok(Self { entity, base })
    }
}

pub fn expand(attr: Tokens, item: Tokens) -> syn::Result<Tokens> {
    let FilterArgs { entity, base } = syn::parse2(attr)?;
    let mut input: ItemStruct = syn::parse2(item)?;
    let Fields::Named(fields) = &mut input.fields else {
        return Err(syn::Error::new(
            input.ident.span(),
            "a filter has named fields",
        ));
    };
    let mut steps = Vec::new();
    for field in &mut fields.named {
        let Some(name) = field.ident.clone() else {
            continue;
        };
        let Some(at) = field.attrs.iter().position(|a| a.path().is_ident("by")) else {
            return Err(syn::Error::new(
                name.span(),
                "say the field's criterion: #[by(references(column, Kind))]…",
            ));
        };
        let by = field.attrs.remove(at);
        steps.push(criterion(&by, &name, &field.ty, &entity)?);
    }
    fields.named.push(syn::parse_quote! {
        /// The criteria of every list of records.
        #[graphql(flatten)]
        pub record: crate::graphql::filter::RecordCriteria
    });
    let ty = &input.ident;
    let table_name = entity.to_string();
    let base = match base {
        Some(base) => quote!(#base(request)),
        None => quote!(sea_orm::QueryTrait::into_query(
            <#entity::Entity as sea_orm::EntityTrait>::find()
        )),
    };
    Ok(quote! {
        #[derive(async_graphql::InputObject, Default)]
        #input

        impl crate::graphql::pagination::ListFilter for #ty {
            fn select(
                &self,
                request: &crate::graphql::context::RequestContext,
            ) -> Result<sea_orm::sea_query::SelectStatement, crate::kernel::error::ApiError> {
                let backend = request.db.get_database_backend();
                let mut f = crate::graphql::filter::Filter::new(#base, #table_name, backend);
                #(#steps)*
                f.record::<#entity::Entity>(&self.record)?;
                Ok(f.finish())
            }
        }
    })
}

/// The criterion `#[by(…)]` of one field, as a step of the filter.
fn criterion(by: &syn::Attribute, name: &Ident, ty: &Type, entity: &Ident) -> syn::Result<Tokens> {
    let path = format!("filter.{}", camel_case(&name.to_string()));
    let mut step = None;
    by.parse_nested_meta(|meta| {
        let kind = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        if kind == "with" {
            let function: syn::Path = meta.value()?.parse()?;
            step = Some(quote! {
                if let Some(value) = &self.#name {
                    #function(&mut f, request, value)?;
                }
            });
            return Ok(());
        }
        let arguments: Vec<Ident> = if meta.input.peek(syn::token::Paren) {
            let content;
            syn::parenthesized!(content in meta.input);
            content
                .parse_terminated(Ident::parse, Token![,])?
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        let column = |at: usize| -> syn::Result<Tokens> {
            let column = arguments
                .get(at)
                .ok_or_else(|| meta.error("name the column"))?;
            let variant = column_variant(column);
            Ok(quote!(#entity::Column::#variant))
        };
        let kind_at = |at: usize| -> syn::Result<&Ident> {
            arguments
                .get(at)
                .ok_or_else(|| meta.error("name the kind of record"))
        };
        step = Some(match kind.as_str() {
            "references" => {
                let column = column(0)?;
                let record = kind_at(1)?;
                quote! {
                    f.references(#path, #column, self.#name.as_ref(), crate::kernel::ids::NodeKind::#record)?;
                }
            }
            "subtree" => {
                let column = column(0)?;
                let record = kind_at(1)?;
                let tree = snake_case(&record.to_string());
                quote! {
                    f.subtree(#path, #column, self.#name.as_ref(), crate::kernel::ids::NodeKind::#record, #tree)?;
                }
            }
            "linked" => {
                let record = kind_at(1)?;
                let link = link_table(kind_at(0)?, entity, record);
                let tree = if arguments.get(2).is_some_and(|a| a == "tree") {
                    let tree = snake_case(&record.to_string());
                    quote!(Some(#tree))
                } else {
                    quote!(None)
                };
                quote! {
                    f.linked(#path, self.#name.as_ref(), crate::kernel::ids::NodeKind::#record, #link, #tree)?;
                }
            }
            "one_of" => {
                let column = column(0)?;
                let values = option_inner(ty).and_then(|list| wrapped(list, "Vec")).ok_or_else(|| {
                    meta.error("`one_of` takes a list of an enumeration: Option<Vec<…>>")
                })?;
                let stored = enum_name(values).ok_or_else(|| meta.error("an enumeration"))?;
                quote! {
                    f.one_of::<#values, entity::enums::#stored>(#column, self.#name.as_ref());
                }
            }
            "any_of" => {
                let column = column(0)?;
                let fold = if arguments.get(1).is_some_and(|a| a == "upper") {
                    quote!(.map(|value| value.to_ascii_uppercase()))
                } else {
                    quote!(.cloned())
                };
                quote! {
                    if let Some(values) = &self.#name {
                        let values: Vec<String> = values.iter()#fold.collect();
                        f.condition(sea_orm::sea_query::ExprTrait::is_in(
                            crate::kernel::record::col(#column),
                            values,
                        ));
                    }
                }
            }
            "date_range" => {
                let column = column(0)?;
                quote! {
                    f.date_range(#path, #column, self.#name.as_ref())?;
                }
            }
            "equals" => {
                let column = column(0)?;
                quote! {
                    if let Some(value) = self.#name {
                        f.condition(sea_orm::sea_query::ExprTrait::eq(
                            crate::kernel::record::col(#column),
                            value,
                        ));
                    }
                }
            }
            "is_null" => {
                let column = column(0)?;
                quote! {
                    if let Some(without) = self.#name {
                        let column = crate::kernel::record::col(#column);
                        f.condition(if without {
                            sea_orm::sea_query::ExprTrait::is_null(column)
                        } else {
                            sea_orm::sea_query::ExprTrait::is_not_null(column)
                        });
                    }
                }
            }
            "search" if arguments.is_empty() => quote! {
                f.search(self.#name.as_ref())?;
            },
            "search" => {
                let record = kind_at(0)?;
                let tree = snake_case(&record.to_string());
                let through = arguments
                    .get(1)
                    .ok_or_else(|| meta.error("name the column or link table"))?;
                let link = if through.to_string().ends_with("_id") {
                    let variant = column_variant(through);
                    quote!(crate::graphql::loader::Link::column(#entity::Column::#variant))
                } else {
                    link_table(through, entity, record)
                };
                quote! {
                    f.search_through(self.#name.as_ref(), #tree, #link)?;
                }
            }
            _ => return Err(meta.error("unknown criterion")),
        });
        Ok(())
    })?;
    step.ok_or_else(|| syn::Error::new(name.span(), "say the field's criterion"))
}

/// `initiative_theme` between `initiative` and `Theme`: its `initiative_id` and `theme_id`.
fn link_table(table: &Ident, entity: &Ident, record: &Ident) -> Tokens {
    let own = column_variant(&Ident::new(&format!("{entity}_id"), table.span()));
    let other = column_variant(&Ident::new(
        &format!("{}_id", snake_case(&record.to_string())),
        table.span(),
    ));
    quote! {
        crate::graphql::loader::Link::via(entity::#table::Column::#own, entity::#table::Column::#other)
    }
}

fn enum_name(ty: &Type) -> Option<&Ident> {
    let Type::Path(path) = ty else { return None };
    path.path.segments.last().map(|s| &s.ident)
}
