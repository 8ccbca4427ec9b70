//! `#[update(area, "area")]` on an `Update…Input`: the input's GraphQL derive, its first two
//! fields (`id`, "The area.", and `version`, the one last read), and its `Changes`:
//! `changed(&before)`, the record after the plain changes the input asks for, with the
//! problems found in them (`graphql::mutation::edited` starts an update with it). Each
//! plain field says how it changes its column, in the order of the fields:
//! - `#[set]`: the value, converted into the column's type (`Option<T>`: set when given;
//!   `MaybeUndefined<T>`: set, or cleared with null);
//! - `#[set(text = NAME_MAX)]`: translations, checked (a required text for `Option<…>`);
//! - `#[set(check = url)]`: through a parser `check(field, value) -> Result<T, UserError>`
//!   (`check = |field, v| plain(field, v, NAME_MAX)` for one that takes more);
//! - `column = other_name` where the column is named otherwise.
//!
//! Fields without `#[set]` (references, link lists, values checked together) are changed
//! by hand after `changed`, as the exceptions they are.
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Fields, Ident, ItemStruct, LitStr, Token, Type};

use crate::{camel_case, option_inner, wrapped};

struct UpdateArgs {
    entity: Ident,
    noun: LitStr,
}

impl Parse for UpdateArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let entity = input.parse()?;
        input.parse::<Token![,]>()?;
        let noun = input.parse()?;
        Ok(Self { entity, noun })
    }
}

#[derive(Default)]
struct Set {
    text: Option<Expr>,
    check: Option<Expr>,
    column: Option<Ident>,
}

pub fn expand(attr: Tokens, item: Tokens) -> syn::Result<Tokens> {
    let UpdateArgs { entity, noun } = syn::parse2(attr)?;
    let mut input: ItemStruct = syn::parse2(item)?;
    let Fields::Named(fields) = &mut input.fields else {
        return Err(syn::Error::new(
            input.ident.span(),
            "an update has named fields",
        ));
    };
    let mut steps = Vec::new();
    for field in &mut fields.named {
        let Some(name) = field.ident.clone() else {
            continue;
        };
        let Some(at) = field.attrs.iter().position(|a| a.path().is_ident("set")) else {
            continue;
        };
        let attribute = field.attrs.remove(at);
        let mut set = Set::default();
        if !matches!(attribute.meta, syn::Meta::Path(_)) {
            attribute.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                match key.as_str() {
                    "text" => set.text = Some(meta.value()?.parse()?),
                    "check" => set.check = Some(meta.value()?.parse()?),
                    "column" => set.column = Some(meta.value()?.parse()?),
                    _ => {
                        return Err(meta.error("`text = MAX`, `check = parser` or `column = name`"));
                    }
                }
                Ok(())
            })?;
        }
        steps.push(step(&name, &field.ty, &set)?);
    }
    let id_doc = format!(" The {}.", noun.value());
    fields.named.insert(
        0,
        syn::parse_quote! {
            /// The version you last read.
            pub version: i32
        },
    );
    fields.named.insert(
        0,
        syn::parse_quote! {
            #[doc = #id_doc]
            pub id: async_graphql::ID
        },
    );
    let ty = &input.ident;
    Ok(quote! {
        #[derive(async_graphql::InputObject)]
        #input

        impl crate::graphql::mutation::Changes<entity::#entity::Entity> for #ty {
            fn id(&self) -> &async_graphql::ID {
                &self.id
            }

            /// The record after the plain changes asked for, and the problems found in them.
            fn changed(
                &self,
                before: &entity::#entity::Model,
            ) -> (entity::#entity::Model, crate::kernel::write::Problems) {
                let mut after = before.clone();
                let mut problems = crate::kernel::write::Problems::default();
                #(#steps)*
                (after, problems)
            }
        }
    })
}

/// How one field changes its column.
fn step(name: &Ident, ty: &Type, set: &Set) -> syn::Result<Tokens> {
    let field = camel_case(&name.to_string());
    let column = set.column.as_ref().unwrap_or(name);
    let (inner, clearable) = match (option_inner(ty), wrapped(ty, "MaybeUndefined")) {
        (Some(inner), _) => (inner, false),
        (None, Some(inner)) => (inner, true),
        _ => {
            return Err(syn::Error::new(
                name.span(),
                "a changed field is `Option<T>` or `MaybeUndefined<T>`",
            ));
        }
    };
    let wrap = |value: Tokens| {
        if clearable {
            quote!(Some(#value))
        } else {
            value
        }
    };
    let by_value = !is_string(inner) && wrapped(inner, "Vec").is_none();
    let argument = if by_value {
        quote!(*value)
    } else {
        quote!(value)
    };
    let assign = if let Some(max) = &set.text {
        let required = !clearable;
        quote! {
            if let Some(value) = problems.check(crate::graphql::input::text(#field, value, #required, #max)) {
                after.#column = value;
            }
        }
    } else if let Some(check) = &set.check {
        let checked = wrap(quote!(value));
        quote! {
            if let Some(value) = problems.check((#check)(#field, #argument)) {
                after.#column = #checked;
            }
        }
    } else {
        let value = wrap(quote!(value.clone().into()));
        quote!(after.#column = #value;)
    };
    Ok(if clearable {
        quote! {
            match &self.#name {
                async_graphql::MaybeUndefined::Value(value) => { #assign }
                async_graphql::MaybeUndefined::Null => after.#column = Default::default(),
                async_graphql::MaybeUndefined::Undefined => {}
            }
        }
    } else {
        quote! {
            if let Some(value) = &self.#name {
                #assign
            }
        }
    })
}

fn is_string(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.is_ident("String"))
}
