//! Generation of the `Payload` impl and the link-time registration.

use ncl_schema::PayloadModel;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{LitStr, Path, WherePredicate, parse_quote};

/// Generates the `Payload` impl for `model` and, for a non-generic type, its registration.
///
/// Everything sits in `const _: () = { ... };` and names only `::core` and the `ncl` crate
/// path, so the expansion adds no names to the caller's module and works wherever the
/// crate path resolves.
pub(super) fn expand(model: &PayloadModel) -> TokenStream {
    let krate = crate_path(model);
    let ident = &model.ident;
    let name_span = model.attrs.name.as_ref().map_or(ident.span(), LitStr::span);
    let wire_name = LitStr::new(&model.wire_name(), name_span);

    let mut generics = model.generics.clone();
    if model.is_generic() {
        // Serde's derives bound each type parameter, so `Type<T>` meets the supertraits of
        // `Payload` only for some `T`. This bound limits the impl to those.
        let (_, ty_generics, _) = model.generics.split_for_impl();
        let bound: WherePredicate = parse_quote! {
            #ident #ty_generics: #krate::__private::serde::Serialize
                + #krate::__private::serde::de::DeserializeOwned
                + ::core::marker::Send
                + ::core::marker::Sync
                + 'static
        };
        generics.make_where_clause().predicates.push(bound);
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let registration = if model.is_generic() {
        // Each instantiation is a different type, and the derive cannot know which ones the
        // program uses, so generic types are registered at run time.
        TokenStream::new()
    } else {
        let rust_name = LitStr::new(&model.rust_name(), ident.span());
        quote! {
            #krate::__private::inventory::submit! {
                #krate::__private::PayloadRegistration::new::<#ident>(
                    ::core::concat!(::core::module_path!(), "::", #rust_name)
                )
            }
        }
    };

    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::Payload for #ident #ty_generics #where_clause {
                const NAME: &'static str = #wire_name;
            }

            #registration
        };
    }
}

/// Returns the path from `#[ncl(crate = "...")]`, or `::ncl`.
fn crate_path(model: &PayloadModel) -> Path {
    match &model.attrs.krate {
        Some(path) => path.clone(),
        None => parse_quote!(::ncl),
    }
}

#[cfg(test)]
mod tests {
    use syn::DeriveInput;

    use super::*;

    fn expand_input(input: DeriveInput) -> String {
        let model = PayloadModel::from_derive_input(&input).expect("test input should be valid");
        expand(&model).to_string()
    }

    #[test]
    fn plain_struct_is_registered() {
        let expanded = expand_input(parse_quote! {
            struct JobAssigned {
                job_id: String,
            }
        });
        let expected = quote! {
            const _: () = {
                #[automatically_derived]
                impl ::ncl::Payload for JobAssigned {
                    const NAME: &'static str = "JobAssigned";
                }

                ::ncl::__private::inventory::submit! {
                    ::ncl::__private::PayloadRegistration::new::<JobAssigned>(
                        ::core::concat!(::core::module_path!(), "::", "JobAssigned")
                    )
                }
            };
        };
        assert_eq!(expanded, expected.to_string());
    }

    #[test]
    fn name_and_crate_are_used() {
        let expanded = expand_input(parse_quote! {
            #[ncl(name = "Job/v2", crate = "reexport::ncl")]
            enum r#Job {
                Assigned,
            }
        });
        let expected = quote! {
            const _: () = {
                #[automatically_derived]
                impl reexport::ncl::Payload for r#Job {
                    const NAME: &'static str = "Job/v2";
                }

                reexport::ncl::__private::inventory::submit! {
                    reexport::ncl::__private::PayloadRegistration::new::<r#Job>(
                        ::core::concat!(::core::module_path!(), "::", "Job")
                    )
                }
            };
        };
        assert_eq!(expanded, expected.to_string());
    }

    #[test]
    fn generic_type_is_bounded_not_registered() {
        let expanded = expand_input(parse_quote! {
            #[ncl(name = "Page")]
            struct Page<T: Clone, const N: usize> where T: Default {
                items: [T; N],
            }
        });
        let expected = quote! {
            const _: () = {
                #[automatically_derived]
                impl<T: Clone, const N: usize> ::ncl::Payload for Page<T, N>
                where
                    T: Default,
                    Page<T, N>: ::ncl::__private::serde::Serialize
                        + ::ncl::__private::serde::de::DeserializeOwned
                        + ::core::marker::Send
                        + ::core::marker::Sync
                        + 'static
                {
                    const NAME: &'static str = "Page";
                }
            };
        };
        assert_eq!(expanded, expected.to_string());
    }
}
