//! Generation of the registration of a free handler function.

use ncl_schema::HandlerFn;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, LitStr, Path};

use super::checks;

/// Generates, beside the function `f`:
///
/// - a hidden braced struct `f`, which lives only in the type namespace and so does not
///   clash with the function, for `Router::route::<f>()` to name;
/// - in `const _: () = { ... };`, a call function that takes the message and the router
///   state type-erased, the `HandlerRegistration` that points to it, the `HandlerItem`
///   impl of the struct, and the `inventory` submission that `Router::new` finds.
///
/// A request handler, whose return type is `Result<R, E>`, is expanded by
/// [`super::request::expand_fn`] instead.
pub(super) fn expand(handler: &HandlerFn, krate: &Path) -> TokenStream {
    if let Some(response) = &handler.response {
        return super::request::expand_fn(handler, response, krate);
    }
    let ident = &handler.ident;
    let vis = &handler.vis;
    let cfg_attrs = &handler.cfg_attrs;
    let name = LitStr::new(&handler.rust_name(), ident.span());
    let payload = &handler.message.payload;

    let payload_check = checks::payload(&handler.message, krate);
    let clone_check = checks::clone(&handler.message, krate);
    let output_check = checks::output(&handler.output, krate);
    let helpers = checks::helpers(krate);

    let any_message = format_ident!("__ncl_any_message");
    let any_state = format_ident!("__ncl_any_state");
    let message = format_ident!("__ncl_message");
    let output = format_ident!("__ncl_output");
    let registration = format_ident!("__NCL_REGISTRATION");

    let StateParts {
        binding: state_binding,
        args,
        type_id: state_type_id,
        type_name: state_type_name,
        item_impl,
    } = state_parts(
        handler,
        &message,
        &any_state,
        krate,
        &quote!(#krate::HandlerItem),
    );
    let into_result = checks::into_result(&handler.output, &output);
    // Spanned on the name, so that a handler whose future is not `Send` is reported there
    // rather than on the attribute.
    let boxed_future = quote_spanned! {ident.span()=>
        ::std::boxed::Box::pin(async move {
            let #message = #krate::__private::typed::<#payload>(#any_message)?;
            #state_binding
            let #output = #ident(#args).await;
            #into_result
        })
    };

    quote! {
        #(#cfg_attrs)*
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        #(#cfg_attrs)*
        const _: () = {
            #helpers

            fn __ncl_call<'a>(
                #any_message: &'a #krate::AnyMessage,
                #any_state: &'a (dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync),
            ) -> #krate::__private::BoxFuture<'a, ::core::result::Result<(), #krate::BoxError>> {
                #clone_check
                #output_check
                #boxed_future
            }

            const #registration: #krate::__private::HandlerRegistration = {
                #payload_check
                #krate::__private::HandlerRegistration {
                    name: #name,
                    path: ::core::concat!(::core::module_path!(), "::", #name),
                    payload_name: <#payload as #krate::Payload>::NAME,
                    payload_type_name: ::core::stringify!(#payload),
                    payload_type: ::core::any::TypeId::of::<#payload>
                        as fn() -> ::core::any::TypeId,
                    state_type: #state_type_id,
                    state_type_name: #state_type_name,
                    call: __ncl_call,
                }
            };

            #item_impl {
                const REGISTRATION: &'static #krate::__private::HandlerRegistration =
                    &#registration;
            }

            #krate::__private::inventory::submit! { #registration }
        };
    }
}

/// The parts of the expansion that depend on whether the handler takes state.
pub(super) struct StateParts {
    /// Statement that binds the typed state, or nothing.
    pub(super) binding: TokenStream,
    /// Arguments of the call to the handler, in the order of its parameters.
    pub(super) args: TokenStream,
    /// Value of the registration's `state_type`.
    pub(super) type_id: TokenStream,
    /// Value of the registration's `state_type_name`.
    pub(super) type_name: TokenStream,
    /// Header of the impl of `item_trait` (`HandlerItem` or `RequestHandlerItem`): for the
    /// state type, or for every state type.
    pub(super) item_impl: TokenStream,
}

pub(super) fn state_parts(
    handler: &HandlerFn,
    message: &Ident,
    any_state: &Ident,
    krate: &Path,
    item_trait: &TokenStream,
) -> StateParts {
    let ident = &handler.ident;
    let message_arg = checks::message_argument(&handler.message, message);
    let Some(state_param) = &handler.state else {
        return StateParts {
            binding: TokenStream::new(),
            args: message_arg,
            type_id: quote!(::core::option::Option::None),
            type_name: quote!(""),
            // A handler without state runs in a router of any state type.
            item_impl: quote!(impl<__NclState> #item_trait<__NclState> for #ident),
        };
    };

    let state_ty = &state_param.state;
    let state = format_ident!("__ncl_state");
    let args = if state_param.index < handler.message.index {
        quote!(#state, #message_arg)
    } else {
        quote!(#message_arg, #state)
    };
    StateParts {
        binding: quote! {
            let #state = #krate::__private::state::<#state_ty>(#any_state)?;
        },
        args,
        type_id: quote! {
            ::core::option::Option::Some(
                ::core::any::TypeId::of::<#state_ty> as fn() -> ::core::any::TypeId
            )
        },
        type_name: quote!(::core::stringify!(#state_ty)),
        item_impl: quote!(impl #item_trait<#state_ty> for #ident),
    }
}

#[cfg(test)]
mod tests {
    use ncl_schema::HandlerFn;
    use syn::{ItemFn, parse_quote};

    use super::*;

    fn expand_fn(item: ItemFn, krate: Path) -> String {
        let handler = HandlerFn::from_item_fn(&item).expect("test input should be valid");
        expand(&handler, &krate).to_string()
    }

    #[test]
    fn borrowed_message_without_state() {
        let expanded = expand_fn(
            parse_quote!(
                pub async fn on_job(message: &Message<Job>) {}
            ),
            parse_quote!(::ncl),
        );
        let helpers = checks::helpers(&parse_quote!(::ncl));
        let expected = quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            pub struct on_job {}

            const _: () = {
                #helpers

                fn __ncl_call<'a>(
                    __ncl_any_message: &'a ::ncl::AnyMessage,
                    __ncl_any_state: &'a (dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync),
                ) -> ::ncl::__private::BoxFuture<'a, ::core::result::Result<(), ::ncl::BoxError>> {
                    ::std::boxed::Box::pin(async move {
                        let __ncl_message = ::ncl::__private::typed::<Job>(__ncl_any_message)?;
                        let __ncl_output = on_job(__ncl_message).await;
                        __ncl_into_result::<()>(__ncl_output)
                    })
                }

                const __NCL_REGISTRATION: ::ncl::__private::HandlerRegistration = {
                    ::ncl::__private::assert_payload::<Job>();
                    ::ncl::__private::HandlerRegistration {
                        name: "on_job",
                        path: ::core::concat!(::core::module_path!(), "::", "on_job"),
                        payload_name: <Job as ::ncl::Payload>::NAME,
                        payload_type_name: ::core::stringify!(Job),
                        payload_type: ::core::any::TypeId::of::<Job>
                            as fn() -> ::core::any::TypeId,
                        state_type: ::core::option::Option::None,
                        state_type_name: "",
                        call: __ncl_call,
                    }
                };

                impl<__NclState> ::ncl::HandlerItem<__NclState> for on_job {
                    const REGISTRATION: &'static ::ncl::__private::HandlerRegistration =
                        &__NCL_REGISTRATION;
                }

                ::ncl::__private::inventory::submit! { __NCL_REGISTRATION }
            };
        };
        assert_eq!(expanded, expected.to_string());
    }

    #[test]
    fn owned_message_with_state_first() {
        let expanded = expand_fn(
            parse_quote! {
                #[cfg(test)]
                async fn r#type(node: &Node, message: Message<Job>) -> Result<(), E> {}
            },
            parse_quote!(reexport::ncl),
        );
        let helpers = checks::helpers(&parse_quote!(reexport::ncl));
        let expected = quote! {
            #[cfg(test)]
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            struct r#type {}

            #[cfg(test)]
            const _: () = {
                #helpers

                fn __ncl_call<'a>(
                    __ncl_any_message: &'a reexport::ncl::AnyMessage,
                    __ncl_any_state: &'a (dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync),
                ) -> reexport::ncl::__private::BoxFuture<'a, ::core::result::Result<(), reexport::ncl::BoxError>> {
                    reexport::ncl::__private::assert_clone_payload::<Job>();
                    reexport::ncl::__private::assert_handler_return::<Result<(), E> >();
                    ::std::boxed::Box::pin(async move {
                        let __ncl_message = reexport::ncl::__private::typed::<Job>(__ncl_any_message)?;
                        let __ncl_state = reexport::ncl::__private::state::<Node>(__ncl_any_state)?;
                        let __ncl_output = r#type(__ncl_state, __ncl_clone_message::<Job>(__ncl_message)).await;
                        __ncl_into_result::<Result<(), E> >(__ncl_output)
                    })
                }

                const __NCL_REGISTRATION: reexport::ncl::__private::HandlerRegistration = {
                    reexport::ncl::__private::assert_payload::<Job>();
                    reexport::ncl::__private::HandlerRegistration {
                        name: "type",
                        path: ::core::concat!(::core::module_path!(), "::", "type"),
                        payload_name: <Job as reexport::ncl::Payload>::NAME,
                        payload_type_name: ::core::stringify!(Job),
                        payload_type: ::core::any::TypeId::of::<Job>
                            as fn() -> ::core::any::TypeId,
                        state_type: ::core::option::Option::Some(
                            ::core::any::TypeId::of::<Node> as fn() -> ::core::any::TypeId
                        ),
                        state_type_name: ::core::stringify!(Node),
                        call: __ncl_call,
                    }
                };

                impl reexport::ncl::HandlerItem<Node> for r#type {
                    const REGISTRATION: &'static reexport::ncl::__private::HandlerRegistration =
                        &__NCL_REGISTRATION;
                }

                reexport::ncl::__private::inventory::submit! { __NCL_REGISTRATION }
            };
        };
        assert_eq!(expanded, expected.to_string());
    }
}
