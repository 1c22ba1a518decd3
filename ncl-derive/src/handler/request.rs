//! Generation for request handlers: functions and methods whose return type is
//! `Result<R, E>` with a payload `R`, which respond to requests through a `Responder`.

use ncl_schema::{HandlerFn, HandlerImpl, HandlerMethod};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, LitStr, Path, Type};

use super::checks;
use super::function::{StateParts, state_parts};

/// Generates, beside the request handler function `f` whose response type is `response`:
///
/// - a hidden braced struct `f`, in the type namespace, for `RequestRouter::route::<f>()`
///   to name;
/// - in `const _: () = { ... };`, the pointer to `AnyResponse::new::<R>` (see
///   [`checks::responder`]), a call function that takes the request and the router state
///   type-erased and returns the type-erased response, the `RequestHandlerRegistration`
///   that points to it (its const also checks that `R` is the request type's response
///   type), the `RequestHandlerItem` impl of the struct, and the `inventory` submission
///   that `RequestRouter::new` finds.
pub(super) fn expand_fn(handler: &HandlerFn, response: &Type, krate: &Path) -> TokenStream {
    let ident = &handler.ident;
    let vis = &handler.vis;
    let cfg_attrs = &handler.cfg_attrs;
    let name = LitStr::new(&handler.rust_name(), ident.span());
    let payload = &handler.message.payload;

    let payload_check = checks::payload(&handler.message, krate);
    let response_check = checks::response(&handler.message, response, krate);
    let clone_check = checks::clone(&handler.message, krate);
    let output_check = checks::request_output(&handler.output, krate);
    let helpers = checks::helpers(krate);
    let request_helpers = checks::request_helpers(krate);

    let any_message = format_ident!("__ncl_any_message");
    let any_state = format_ident!("__ncl_any_state");
    let message = format_ident!("__ncl_message");
    let output = format_ident!("__ncl_output");
    let registration = format_ident!("__NCL_REQUEST_REGISTRATION");
    let respond = format_ident!("__NCL_RESPOND");
    let responder = checks::responder(response, &respond, krate);

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
        &quote!(#krate::RequestHandlerItem),
    );
    let into_response = checks::into_response(&handler.output, response, &output, &respond);
    // Spanned on the name, so that a handler whose future is not `Send` is reported there.
    let boxed_future = quote_spanned! {ident.span()=>
        ::std::boxed::Box::pin(async move {
            let #message = #krate::__private::typed::<#payload>(#any_message)?;
            #state_binding
            let #output = #ident(#args).await;
            #into_response
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
            #request_helpers
            #responder

            fn __ncl_call<'a>(
                #any_message: &'a #krate::AnyMessage,
                #any_state: &'a (dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync),
            ) -> #krate::__private::BoxFuture<
                'a,
                ::core::result::Result<#krate::AnyResponse, #krate::BoxError>,
            > {
                #clone_check
                #output_check
                #boxed_future
            }

            const #registration: #krate::__private::RequestHandlerRegistration = {
                #payload_check
                #response_check
                #krate::__private::RequestHandlerRegistration {
                    name: #name,
                    path: ::core::concat!(::core::module_path!(), "::", #name),
                    payload_name: <#payload as #krate::Payload>::NAME,
                    state_type: #state_type_id,
                    state_type_name: #state_type_name,
                    call: __ncl_call,
                }
            };

            #item_impl {
                const REGISTRATION: &'static #krate::__private::RequestHandlerRegistration =
                    &#registration;
            }

            #krate::__private::inventory::submit! { #registration }
        };
    }
}

/// Generates, in `const _: () = { ... };`, one `&str` const per request handler method that
/// holds the wire name of its request type (and checks its response type), one pointer to
/// `AnyResponse::new::<R>` per method (see [`checks::responder`]), and the `RequestHandler`
/// impl of the block's type:
///
/// - `handles` returns `true` for those wire names;
/// - `handle_request` matches the request's type against them, calls the method of the
///   matching arm, converts its response, and wraps its error in a `HandlerError` that
///   names `Type::method`;
/// - `name` returns the type as written in the impl header.
///
/// Returns nothing when the block has no request handler methods.
pub(super) fn expand_methods(handler: &HandlerImpl, krate: &Path) -> TokenStream {
    let methods: Vec<(&HandlerMethod, &Type)> = handler
        .methods
        .iter()
        .filter_map(|method| Some((method, method.response.as_ref()?)))
        .collect();
    if methods.is_empty() {
        return TokenStream::new();
    }
    let self_ty = &handler.self_ty;
    let any_message = format_ident!("__ncl_any_message");
    let message_type = format_ident!("__ncl_message_type");
    let payload_consts: Vec<Ident> = (0..methods.len())
        .map(|index| format_ident!("__NCL_REQUEST_{index}"))
        .collect();
    let respond_consts: Vec<Ident> = (0..methods.len())
        .map(|index| format_ident!("__NCL_RESPOND_{index}"))
        .collect();

    let const_items = methods
        .iter()
        .zip(payload_consts.iter().zip(&respond_consts))
        .map(|((method, response), (payload_const, respond_const))| {
            let cfg_attrs = &method.cfg_attrs;
            let payload = &method.message.payload;
            let payload_check = checks::payload(&method.message, krate);
            let response_check = checks::response(&method.message, response, krate);
            let responder = checks::responder(response, respond_const, krate);
            quote! {
                #(#cfg_attrs)*
                const #payload_const: &str = {
                    #payload_check
                    #response_check
                    <#payload as #krate::Payload>::NAME
                };
                #(#cfg_attrs)*
                #responder
            }
        });
    let handles_arms = methods
        .iter()
        .zip(&payload_consts)
        .map(|((method, _), payload_const)| {
            let cfg_attrs = &method.cfg_attrs;
            quote! {
                #(#cfg_attrs)*
                #payload_const => true,
            }
        });
    let type_checks = methods.iter().map(|(method, _)| {
        let cfg_attrs = &method.cfg_attrs;
        let clone_check = checks::clone(&method.message, krate);
        let output_check = checks::request_output(&method.output, krate);
        quote! {
            #(#cfg_attrs)*
            {
                #clone_check
                #output_check
            }
        }
    });
    let dispatch_arms = methods
        .iter()
        .zip(payload_consts.iter().zip(&respond_consts))
        .map(|((method, response), consts)| dispatch_arm(method, response, consts, self_ty, krate));

    let helpers = checks::helpers(krate);
    let request_helpers = checks::request_helpers(krate);

    quote! {
        const _: () = {
            #helpers
            #request_helpers

            #(#const_items)*

            impl #krate::RequestHandler for #self_ty {
                fn handles(&self, #message_type: &str) -> bool {
                    match #message_type {
                        #(#handles_arms)*
                        _ => false,
                    }
                }

                async fn handle_request(
                    &self,
                    #any_message: &#krate::AnyMessage,
                ) -> ::core::result::Result<#krate::AnyResponse, #krate::BoxError> {
                    #(#type_checks)*
                    match #any_message.message_type() {
                        #(#dispatch_arms)*
                        #message_type => ::core::result::Result::Err(
                            #krate::__private::unhandled(
                                ::core::stringify!(#self_ty),
                                #message_type,
                            ),
                        ),
                    }
                }

                fn name(&self) -> &str {
                    ::core::stringify!(#self_ty)
                }
            }
        };
    }
}

/// Generates the match arm that calls `method` for requests of its type; `consts` are the
/// names of its wire-name const and its response pointer const.
fn dispatch_arm(
    method: &HandlerMethod,
    response: &Type,
    (payload_const, respond_const): (&Ident, &Ident),
    self_ty: &Type,
    krate: &Path,
) -> TokenStream {
    let cfg_attrs = &method.cfg_attrs;
    let ident = &method.ident;
    let name = LitStr::new(&method.rust_name(), ident.span());
    let payload = &method.message.payload;
    let any_message = format_ident!("__ncl_any_message");
    let message = format_ident!("__ncl_message");
    let output = format_ident!("__ncl_output");
    let message_arg = checks::message_argument(&method.message, &message);
    let into_response = checks::into_response(&method.output, response, &output, respond_const);

    quote! {
        #(#cfg_attrs)*
        ::core::option::Option::Some(#payload_const) => {
            let #message = #krate::__private::typed::<#payload>(#any_message)?;
            let #output = Self::#ident(self, #message_arg).await;
            #into_response.map_err(|error| {
                #krate::__private::name_error(
                    ::core::concat!(::core::stringify!(#self_ty), "::", #name),
                    error,
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use ncl_schema::{HandlerFn, HandlerImpl};
    use syn::{ItemFn, ItemImpl, parse_quote};

    use super::*;

    #[test]
    fn request_fn_registers_request_handler() {
        let item: ItemFn = parse_quote! {
            async fn get_job(node: &Node, request: &Message<GetJob>) -> Result<JobInfo, E> {}
        };
        let handler = HandlerFn::from_item_fn(&item).expect("test input should be valid");
        let expanded = super::super::function::expand(&handler, &parse_quote!(::ncl)).to_string();
        let registration = quote! {
            const __NCL_REQUEST_REGISTRATION: ::ncl::__private::RequestHandlerRegistration = {
                ::ncl::__private::assert_payload::<GetJob>();
                ::ncl::__private::assert_response_of::<GetJob, JobInfo>();
                ::ncl::__private::RequestHandlerRegistration {
                    name: "get_job",
                    path: ::core::concat!(::core::module_path!(), "::", "get_job"),
                    payload_name: <GetJob as ::ncl::Payload>::NAME,
                    state_type: ::core::option::Option::Some(
                        ::core::any::TypeId::of::<Node> as fn() -> ::core::any::TypeId
                    ),
                    state_type_name: ::core::stringify!(Node),
                    call: __ncl_call,
                }
            };
        };
        assert!(expanded.contains(&registration.to_string()), "{expanded}");
        let item_impl = quote!(impl ::ncl::RequestHandlerItem<Node> for get_job);
        assert!(expanded.contains(&item_impl.to_string()), "{expanded}");
        let call = quote! {
            let __ncl_output = get_job(__ncl_state, __ncl_message).await;
            __ncl_into_response::<JobInfo, Result<JobInfo, E> >(__ncl_output, __NCL_RESPOND)
        };
        assert!(expanded.contains(&call.to_string()), "{expanded}");
        let respond = quote! {
            const __NCL_RESPOND: fn(JobInfo) -> ::ncl::AnyResponse = ::ncl::AnyResponse::new::<JobInfo>;
        };
        assert!(expanded.contains(&respond.to_string()), "{expanded}");
    }

    #[test]
    fn message_methods_get_no_request_handler_impl() {
        let item: ItemImpl = parse_quote! {
            impl Node {
                async fn on_job(&self, message: &Message<Job>) {}
            }
        };
        let handler = HandlerImpl::from_item_impl(&item).expect("test input should be valid");
        assert!(expand_methods(&handler, &parse_quote!(::ncl)).is_empty());
    }

    #[test]
    fn request_methods_dispatch_by_wire_name() {
        let item: ItemImpl = parse_quote! {
            impl Node {
                async fn on_job(&self, message: &Message<Job>) {}
                async fn ping(&self, request: Message<Ping>) -> Result<Pong, E> {}
            }
        };
        let handler = HandlerImpl::from_item_impl(&item).expect("test input should be valid");
        let expanded = expand_methods(&handler, &parse_quote!(::ncl)).to_string();
        let payload_const = quote! {
            const __NCL_REQUEST_0: &str = {
                ::ncl::__private::assert_payload::<Ping>();
                ::ncl::__private::assert_response_of::<Ping, Pong>();
                <Ping as ::ncl::Payload>::NAME
            };
            const __NCL_RESPOND_0: fn(Pong) -> ::ncl::AnyResponse = ::ncl::AnyResponse::new::<Pong>;
        };
        assert!(expanded.contains(&payload_const.to_string()), "{expanded}");
        assert!(!expanded.contains("__NCL_REQUEST_1"), "{expanded}");
        let call = quote! {
            let __ncl_output = Self::ping(self, __ncl_clone_message::<Ping>(__ncl_message)).await;
        };
        assert!(expanded.contains(&call.to_string()), "{expanded}");
    }
}
