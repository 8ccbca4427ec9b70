//! `registry!` in `domain/mod.rs`: the domain's modules, one line each, in schema order.
//!
//! ```text
//! organisation: Organisation, ContactPerson; query OrganisationQuery; mutation mutation::OrganisationMutation;
//! ```
//! declares the module, the kinds of record with a global ID it holds (`NodeKind::Organisation`,
//! its Rust type `organisation::Organisation`), and its parts of the root query and mutation
//! types. From the lines come the modules, the `NodeKind` constants and their list, the
//! `Query` and `Mutation` roots (merged in the order of the lines, which is the schema's
//! order), and `kinds!(callback)`, which hands every kind and its type to a macro (the
//! `Node` interface is written from it).
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token};

struct Line {
    attrs: Vec<Attribute>,
    module: Ident,
    kinds: Vec<Ident>,
    query: Vec<syn::Path>,
    mutation: Vec<syn::Path>,
}

struct Registry {
    query_attrs: Vec<Attribute>,
    mutation_attrs: Vec<Attribute>,
    lines: Vec<Line>,
}

impl Parse for Registry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut registry = Registry {
            query_attrs: Vec::new(),
            mutation_attrs: Vec::new(),
            lines: Vec::new(),
        };
        while !input.is_empty() {
            let attrs = input.call(Attribute::parse_outer)?;
            let name: Ident = input.parse()?;
            // `/// docs` `Query;` and `/// docs` `Mutation;`: the roots' descriptions.
            if input.peek(Token![;]) && (name == "Query" || name == "Mutation") {
                input.parse::<Token![;]>()?;
                if name == "Query" {
                    registry.query_attrs = attrs;
                } else {
                    registry.mutation_attrs = attrs;
                }
                continue;
            }
            registry.lines.push(line(attrs, name, input)?);
        }
        Ok(registry)
    }
}

/// `module[: Kind, Kind]; [query A, B;] [mutation C;]` after the module's name.
fn line(attrs: Vec<Attribute>, module: Ident, input: ParseStream) -> syn::Result<Line> {
    let mut kinds = Vec::new();
    if input.parse::<Option<Token![:]>>()?.is_some() {
        loop {
            kinds.push(input.parse()?);
            if input.parse::<Option<Token![,]>>()?.is_none() {
                break;
            }
        }
    }
    input.parse::<Token![;]>()?;
    let mut query = Vec::new();
    let mut mutation = Vec::new();
    while input.peek(Ident) && !input.peek2(Token![:]) && !input.peek2(Token![;]) {
        let fork = input.fork();
        let part: Ident = fork.parse()?;
        let list = match part.to_string().as_str() {
            "query" => &mut query,
            "mutation" => &mut mutation,
            _ => break,
        };
        input.parse::<Ident>()?;
        loop {
            list.push(input.parse()?);
            if input.parse::<Option<Token![,]>>()?.is_none() {
                break;
            }
        }
        input.parse::<Token![;]>()?;
    }
    Ok(Line {
        attrs,
        module,
        kinds,
        query,
        mutation,
    })
}

pub fn expand(item: Tokens) -> syn::Result<Tokens> {
    let Registry {
        query_attrs,
        mutation_attrs,
        lines,
    } = syn::parse2(item)?;
    let modules = lines.iter().map(|line| {
        let Line { attrs, module, .. } = line;
        quote!(#(#attrs)* pub mod #module;)
    });
    let kinds: Vec<(&Ident, &Ident)> = lines
        .iter()
        .flat_map(|line| line.kinds.iter().map(move |kind| (&line.module, kind)))
        .collect();
    let constants = kinds.iter().map(|(_, kind)| {
        let name = kind.to_string();
        let doc = format!(" Records of type `{name}`.");
        quote! {
            #[doc = #doc]
            #[allow(non_upper_case_globals)]
            pub const #kind: Self = Self::named(#name);
        }
    });
    let every = kinds.iter().map(|(_, kind)| quote!(Self::#kind));
    let pairs = kinds
        .iter()
        .map(|(module, kind)| quote!(#kind => crate::domain::#module::#kind));
    let roots = |part: fn(&Line) -> &Vec<syn::Path>| -> Vec<Tokens> {
        lines
            .iter()
            .flat_map(|line| {
                let module = &line.module;
                part(line)
                    .iter()
                    .map(move |path| quote!(crate::domain::#module::#path))
            })
            .collect()
    };
    let queries = roots(|line| &line.query);
    let mutations = roots(|line| &line.mutation);
    Ok(quote! {
        #(#modules)*

        impl crate::kernel::ids::NodeKind {
            #(#constants)*

            /// Every kind, in the order the registry declares them.
            pub const ALL: &'static [Self] = &[#(#every),*];
        }

        /// Hands every kind of record, with the Rust type of its records, to `$callback!`.
        macro_rules! kinds {
            ($callback:ident) => {
                $callback! { #(#pairs),* }
            };
        }
        pub(crate) use kinds;

        #(#query_attrs)*
        #[derive(async_graphql::MergedObject, Default)]
        pub struct Query(#(#queries),*);

        /// The top-level lists of every root query type (`records!`), for the read planner;
        /// a root type without any (declared by hand) adds none.
        pub fn root_lists() -> Vec<crate::graphql::plan::RootList> {
            #[allow(unused_imports)]
            use crate::graphql::plan::{DeclaresNone, DeclaresRoots};
            let mut lists = Vec::new();
            #(lists.extend((&crate::graphql::plan::Probe::<#queries>::new()).root_lists());)*
            lists
        }

        #(#mutation_attrs)*
        #[derive(async_graphql::MergedObject, Default)]
        pub struct Mutation(#(#mutations),*);
    })
}
