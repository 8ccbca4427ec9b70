//! `#[order(need, "needs")]` on a list's `…OrderField` enum: the enum's GraphQL derive, the
//! `…Order` input (field and direction) and its `ListOrder` impl, each value's sort key
//! declared on the value itself:
//! - `#[sort(date = recorded_on)]`, `#[sort(int = households, nullable)]`,
//!   `#[sort(text = code)]`: a column of the list's table (`nullable`: records without a value
//!   come last);
//! - `#[sort(localized = name)]`: a text field in the request's language (always nullable);
//! - `#[sort(int = endorsement_count())]`: any expression of the table;
//! - `CreatedAt` and `UpdatedAt`, written bare (or left out: they are added last), the orders
//!   every list offers.
//!
//! Without an order the list follows the enum's default value, ascending, or, with
//! `#[order(need, "needs", unordered)]`, the table's `default_sort`.
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, ItemEnum, LitStr, Token};

use crate::{column_variant, flag, screaming_snake};

/// The macro's argument: `need, "needs"[, unordered]`.
struct OrderArgs {
    entity: syn::Path,
    plural: LitStr,
    unordered: bool,
}

impl Parse for OrderArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let entity = input.parse()?;
        input.parse::<Token![,]>()?;
        let plural = input.parse()?;
        let unordered = flag(input, "unordered")?;
        Ok(Self {
            entity,
            plural,
            unordered,
        })
    }
}

/// `#[sort(int = households, nullable)]`
struct Sort {
    kind: Ident,
    value: Expr,
    nullable: bool,
}

impl Parse for Sort {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let kind: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        let nullable = flag(input, "nullable")?;
        Ok(Self {
            kind,
            value,
            nullable,
        })
    }
}

/// The orders every list offers: the value, its description and the `Table` sort key.
const STAMPS: [(&str, &str, &str); 2] = [
    ("CreatedAt", " Creation time.", "by_created_at"),
    ("UpdatedAt", " Time of the last change.", "by_updated_at"),
];

/// The description and sort key of a value named as one of `STAMPS`.
fn stamp(name: &Ident) -> Option<(&'static str, &'static str)> {
    STAMPS
        .iter()
        .find(|(value, ..)| name == value)
        .map(|(_, doc, key)| (*doc, *key))
}

pub fn expand(attr: Tokens, item: Tokens) -> syn::Result<Tokens> {
    let OrderArgs {
        entity,
        plural,
        unordered,
    } = syn::parse2(attr)?;
    let mut field_enum: ItemEnum = syn::parse2(item)?;
    let table = quote!(#entity::Entity);
    let record = quote!(<#table as crate::kernel::record::Table>);
    let mut arms = Vec::new();
    for variant in &mut field_enum.variants {
        let name = &variant.ident;
        let sort = variant
            .attrs
            .iter()
            .position(|a| a.path().is_ident("sort"))
            .map(|at| variant.attrs.remove(at));
        let key = match (sort, stamp(name)) {
            (Some(sort), _) => sort_key(&sort.parse_args()?, name, &entity, &record)?,
            (None, Some((doc, key))) => {
                if !variant.attrs.iter().any(|a| a.path().is_ident("doc")) {
                    variant.attrs.insert(0, syn::parse_quote!(#[doc = #doc]));
                }
                let key = Ident::new(key, name.span());
                quote!(#record::#key())
            }
            (None, None) => {
                return Err(syn::Error::new(
                    name.span(),
                    "say the value's sort key: #[sort(date = column)], #[sort(localized = field)]…",
                ));
            }
        };
        arms.push(quote!(Self::#name => #key));
    }
    for (name, doc, key) in STAMPS {
        if !field_enum.variants.iter().any(|v| v.ident == name) {
            let ident = Ident::new(name, proc_macro2::Span::call_site());
            field_enum
                .variants
                .push(syn::parse_quote!(#[doc = #doc] #ident));
            let key = Ident::new(key, proc_macro2::Span::call_site());
            arms.push(quote!(Self::#ident => #record::#key()));
        }
    }
    let field_ty = &field_enum.ident;
    let field_name = field_ty.to_string();
    let Some(order_name) = field_name.strip_suffix("Field") else {
        return Err(syn::Error::new(
            field_ty.span(),
            "an order's values are named `…OrderField`",
        ));
    };
    let order_ty = Ident::new(order_name, field_ty.span());
    let enum_doc = format!(" What {} can be ordered by.", plural.value());
    let order_doc = format!(" The order of a list of {}.", plural.value());
    let none = if unordered {
        quote!(return #record::default_sort())
    } else {
        quote!(Self::default())
    };
    Ok(quote! {
        #[doc = #enum_doc]
        #[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq, Default)]
        #field_enum

        impl #field_ty {
            /// The sort key this value stands for.
            fn sort_key(self, request: &crate::graphql::context::RequestContext) -> crate::kernel::sort::SortKey {
                let _ = request;
                match self {
                    #(#arms,)*
                }
            }
        }

        #[doc = #order_doc]
        #[derive(async_graphql::InputObject, Default)]
        pub struct #order_ty {
            /// The field to order by.
            pub field: #field_ty,
            /// The direction.
            #[graphql(default)]
            pub direction: crate::graphql::common::OrderDirection,
        }

        impl crate::graphql::pagination::ListOrder for #order_ty {
            fn key(order_by: Option<Self>, request: &crate::graphql::context::RequestContext) -> crate::kernel::sort::SortKey {
                let order = match order_by {
                    Some(order) => order,
                    None => #none,
                };
                order.field.sort_key(request).descending(order.direction.is_desc())
            }
        }
    })
}

/// The sort key of one value of the enum.
fn sort_key(
    sort: &Sort,
    value: &Ident,
    entity: &syn::Path,
    record: &Tokens,
) -> syn::Result<Tokens> {
    let name = screaming_snake(&value.to_string());
    let id = quote!(#record::id_expr());
    let column = |expr: &Expr| -> Tokens {
        match expr {
            Expr::Path(path) if path.path.get_ident().is_some() => {
                let variant = path.path.get_ident().map(column_variant);
                quote!(crate::kernel::record::col(#entity::Column::#variant))
            }
            other => quote!(#other),
        }
    };
    let nullable = if sort.nullable {
        quote!(.nullable())
    } else {
        quote!()
    };
    let kind = sort.kind.to_string();
    let (expr, kind, nullable) = match kind.as_str() {
        "localized" => {
            let Expr::Path(path) = &sort.value else {
                return Err(syn::Error::new(sort.kind.span(), "a text field's name"));
            };
            let field = path
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            (
                quote!(crate::graphql::common::localized_expr(
                    #record::NAME,
                    #field,
                    &request.locales.chain(None),
                )),
                quote!(Text),
                quote!(.nullable()),
            )
        }
        "int" => (column(&sort.value), quote!(Int), nullable),
        "text" => (column(&sort.value), quote!(Text), nullable),
        "date" => (column(&sort.value), quote!(Date), nullable),
        "date_time" => (column(&sort.value), quote!(DateTime), nullable),
        _ => {
            return Err(syn::Error::new(
                sort.kind.span(),
                "a sort key is `int`, `text`, `date`, `date_time` or `localized`",
            ));
        }
    };
    Ok(quote! {
        crate::kernel::sort::SortKey::new(#name, #expr, crate::kernel::sort::SortKind::#kind, #id) #nullable
    })
}
