//! Generation of the `MessageHandler` impl for an impl block of handler methods. Request
//! handler methods go to the `RequestHandler` impl that [`super::request`] generates.

use ncl_schema::{HandlerImpl, HandlerMethod};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, LitStr, Path};

use super::checks;

/// Generates, in `const _: () = { ... };`, one `&str` const per handler method that holds
/// the wire name of its payload type, and the `MessageHandler` impl of the block's type:
///
/// - `should_process` returns `true` for messages whose payload is of one of the methods'
///   payload types (compared by `TypeId`, which the registry chose from the wire name);
/// - `handle_message` matches the message type against them, calls the method of the
///   matching arm, and wraps its error in a `HandlerError` that names `Type::method`;
/// - `name` returns the type as written in the impl header.
///
/// Only the message handler methods are dispatched here, and the impl is left out when
/// there are none. The `RequestHandler` impl of the request handler methods follows it.
pub(super) fn expand(handler: &HandlerImpl, krate: &Path) -> TokenStream {
    let requests = super::request::expand_methods(handler, krate);
    let mut handler = handler.clone();
    handler.methods.retain(|method| method.response.is_none());
    if handler.methods.is_empty() {
        return requests;
    }
    let handler = &handler;
    let self_ty = &handler.self_ty;
    let any_message = format_ident!("__ncl_any_message");
    let payload_consts: Vec<Ident> = (0..handler.methods.len())
        .map(|index| format_ident!("__NCL_PAYLOAD_{index}"))
        .collect();

    let const_items = handler
        .methods
        .iter()
        .zip(&payload_consts)
        .map(|(method, payload_const)| {
            let cfg_attrs = &method.cfg_attrs;
            let payload = &method.message.payload;
            let payload_check = checks::payload(&method.message, krate);
            quote! {
                #(#cfg_attrs)*
                const #payload_const: &str = {
                    #payload_check
                    <#payload as #krate::Payload>::NAME
                };
            }
        });
    let should_process_checks = handler.methods.iter().map(|method| {
        let cfg_attrs = &method.cfg_attrs;
        let payload = &method.message.payload;
        quote! {
            #(#cfg_attrs)*
            if __ncl_payload_type == ::core::any::TypeId::of::<#payload>() {
                return true;
            }
        }
    });
    let type_checks = handler.methods.iter().map(|method| {
        let cfg_attrs = &method.cfg_attrs;
        let clone_check = checks::clone(&method.message, krate);
        let output_check = checks::output(&method.output, krate);
        if clone_check.is_empty() && output_check.is_empty() {
            return TokenStream::new();
        }
        quote! {
            #(#cfg_attrs)*
            {
                #clone_check
                #output_check
            }
        }
    });
    let dispatch_arms = handler
        .methods
        .iter()
        .zip(&payload_consts)
        .map(|(method, payload_const)| dispatch_arm(method, payload_const, handler, krate));

    let helpers = checks::helpers(krate);

    quote! {
        const _: () = {
            #helpers

            #(#const_items)*

            impl #krate::MessageHandler for #self_ty {
                async fn should_process(&self, #any_message: &#krate::AnyMessage) -> bool {
                    // Comparing the payload's type id needs no metadata lookup. The
                    // registry chose that type from the message's wire type name.
                    let __ncl_payload_type = #any_message.payload_type_id();
                    #(#should_process_checks)*
                    false
                }

                async fn handle_message(
                    &self,
                    #any_message: &#krate::AnyMessage,
                ) -> ::core::result::Result<(), #krate::BoxError> {
                    #(#type_checks)*
                    match #any_message.message_type() {
                        #(#dispatch_arms)*
                        _ => ::core::result::Result::Ok(()),
                    }
                }

                fn name(&self) -> &str {
                    ::core::stringify!(#self_ty)
                }
            }
        };

        #requests
    }
}

/// Generates the match arm that calls `method` for messages of its payload type.
fn dispatch_arm(
    method: &HandlerMethod,
    payload_const: &Ident,
    handler: &HandlerImpl,
    krate: &Path,
) -> TokenStream {
    let self_ty = &handler.self_ty;
    let cfg_attrs = &method.cfg_attrs;
    let ident = &method.ident;
    let name = LitStr::new(&method.rust_name(), ident.span());
    let payload = &method.message.payload;
    let any_message = format_ident!("__ncl_any_message");
    let message = format_ident!("__ncl_message");
    let output = format_ident!("__ncl_output");
    let message_arg = checks::message_argument(&method.message, &message);
    let into_result = checks::into_result(&method.output, &output);

    quote! {
        #(#cfg_attrs)*
        ::core::option::Option::Some(#payload_const) => {
            let #message = #krate::__private::typed::<#payload>(#any_message)?;
            let #output = Self::#ident(self, #message_arg).await;
            #into_result.map_err(|error| {
                let error = #krate::HandlerError::new(
                    ::core::concat!(::core::stringify!(#self_ty), "::", #name),
                    error,
                );
                ::std::boxed::Box::new(error) as #krate::BoxError
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use ncl_schema::HandlerImpl;
    use syn::{ItemImpl, parse_quote};

    use super::*;

    #[test]
    fn methods_become_type_checks_and_match_arms() {
        let item: ItemImpl = parse_quote! {
            impl Node {
                async fn on_job(&self, message: &Message<Job>) -> Result<(), E> {}
                #[cfg(feature = "status")]
                async fn on_status(&self, message: Message<Status>) {}
                fn helper(&self) {}
            }
        };
        let handler = HandlerImpl::from_item_impl(&item).expect("test input should be valid");
        let expanded = expand(&handler, &parse_quote!(::ncl)).to_string();
        let helpers = checks::helpers(&parse_quote!(::ncl));
        let expected = quote! {
            const _: () = {
                #helpers

                const __NCL_PAYLOAD_0: &str = {
                    ::ncl::__private::assert_payload::<Job>();
                    <Job as ::ncl::Payload>::NAME
                };
                #[cfg(feature = "status")]
                const __NCL_PAYLOAD_1: &str = {
                    ::ncl::__private::assert_payload::<Status>();
                    <Status as ::ncl::Payload>::NAME
                };

                impl ::ncl::MessageHandler for Node {
                    async fn should_process(&self, __ncl_any_message: &::ncl::AnyMessage) -> bool {
                        let __ncl_payload_type = __ncl_any_message.payload_type_id();
                        if __ncl_payload_type == ::core::any::TypeId::of::<Job>() {
                            return true;
                        }
                        #[cfg(feature = "status")]
                        if __ncl_payload_type == ::core::any::TypeId::of::<Status>() {
                            return true;
                        }
                        false
                    }

                    async fn handle_message(
                        &self,
                        __ncl_any_message: &::ncl::AnyMessage,
                    ) -> ::core::result::Result<(), ::ncl::BoxError> {
                        {
                            ::ncl::__private::assert_handler_return::<Result<(), E> >();
                        }
                        #[cfg(feature = "status")]
                        {
                            ::ncl::__private::assert_clone_payload::<Status>();
                        }
                        match __ncl_any_message.message_type() {
                            ::core::option::Option::Some(__NCL_PAYLOAD_0) => {
                                let __ncl_message = ::ncl::__private::typed::<Job>(__ncl_any_message)?;
                                let __ncl_output = Self::on_job(self, __ncl_message).await;
                                __ncl_into_result::<Result<(), E> >(__ncl_output)
                                    .map_err(|error| {
                                        let error = ::ncl::HandlerError::new(
                                            ::core::concat!(::core::stringify!(Node), "::", "on_job"),
                                            error,
                                        );
                                        ::std::boxed::Box::new(error) as ::ncl::BoxError
                                    })
                            }
                            #[cfg(feature = "status")]
                            ::core::option::Option::Some(__NCL_PAYLOAD_1) => {
                                let __ncl_message = ::ncl::__private::typed::<Status>(__ncl_any_message)?;
                                let __ncl_output = Self::on_status(self, __ncl_clone_message::<Status>(__ncl_message)).await;
                                __ncl_into_result::<()>(__ncl_output)
                                    .map_err(|error| {
                                        let error = ::ncl::HandlerError::new(
                                            ::core::concat!(::core::stringify!(Node), "::", "on_status"),
                                            error,
                                        );
                                        ::std::boxed::Box::new(error) as ::ncl::BoxError
                                    })
                            }
                            _ => ::core::result::Result::Ok(()),
                        }
                    }

                    fn name(&self) -> &str {
                        ::core::stringify!(Node)
                    }
                }
            };
        };
        assert_eq!(expanded, expected.to_string());
    }
}
