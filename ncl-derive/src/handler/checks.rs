//! Calls that make the compiler check what the syntax cannot show: that the payload type
//! is a payload, that an owned payload is `Clone` and that the return type is supported.
//! For a request handler they also check that the response type is the request type's
//! response.
//!
//! Each check is a call with the user's type as its explicit generic argument, so the
//! compiler reports an unmet bound on that type, with the `on_unimplemented` message of
//! the trait involved. The code that clones the message and converts the output goes
//! through generic helpers called the same way. The compiler reports an unmet bound once
//! per type and place within one body, so each mistake gives one error.

use ncl_schema::MessageParam;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Path, ReturnType, Type, parse_quote};

/// Checks that the payload type of `message` is a payload. The call is a const
/// expression, so that it can share a const with the read of `T::NAME`.
pub(super) fn payload(message: &MessageParam, krate: &Path) -> TokenStream {
    let payload = &message.payload;
    quote_spanned! {payload.span()=>
        #krate::__private::assert_payload::<#payload>();
    }
}

/// Checks that the payload type is `Clone` when the handler takes the message by value.
pub(super) fn clone(message: &MessageParam, krate: &Path) -> TokenStream {
    if message.by_ref {
        return TokenStream::new();
    }
    let payload = &message.payload;
    quote_spanned! {message.ty.span()=>
        #krate::__private::assert_clone_payload::<#payload>();
    }
}

/// Checks that the declared return type is `()` or `Result<(), E>` with a boxable `E`. A
/// function without a return type returns `()`, which needs no check.
pub(super) fn output(output: &ReturnType, krate: &Path) -> TokenStream {
    match output {
        ReturnType::Default => TokenStream::new(),
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            #krate::__private::assert_handler_return::<#ty>();
        },
    }
}

/// Checks that the response type of a request handler is the response type of its
/// request type. The call is a const expression. A missing `Request` impl and a mismatch
/// are reported on the request type, with a note that shows the declared response type.
pub(super) fn response(message: &MessageParam, response: &Type, krate: &Path) -> TokenStream {
    let payload = &message.payload;
    quote_spanned! {response.span()=>
        #krate::__private::assert_response_of::<#payload, #response>();
    }
}

/// Generates the const `ident`, a pointer to `AnyResponse::new::<R>` that turns a request
/// handler's response into the type-erased one. Taking the pointer needs `R: Payload`,
/// so this is also the one check that the response type is a payload, spanned on it.
pub(super) fn responder(response: &Type, ident: &Ident, krate: &Path) -> TokenStream {
    quote_spanned! {response.span()=>
        const #ident: fn(#response) -> #krate::AnyResponse = #krate::AnyResponse::new::<#response>;
    }
}

/// Checks that the declared return type of a request handler is `Result<R, E>` with a
/// payload `R` and a boxable `E`.
pub(super) fn request_output(output: &ReturnType, krate: &Path) -> TokenStream {
    match output {
        ReturnType::Default => TokenStream::new(),
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            #krate::__private::assert_request_return::<#ty>();
        },
    }
}

/// Generates the helper that [`into_response`] calls. It goes once into each `const _`
/// block of generated code for request handlers.
pub(super) fn request_helpers(krate: &Path) -> TokenStream {
    quote! {
        fn __ncl_into_response<R, O: #krate::__private::IntoRequestResult<Response = R>>(
            output: O,
            respond: fn(R) -> #krate::AnyResponse,
        ) -> ::core::result::Result<#krate::AnyResponse, #krate::BoxError> {
            #krate::__private::IntoRequestResult::into_request_result(output).map(respond)
        }
    }
}

/// Converts `binding`, a request handler's output, into `Result<AnyResponse, BoxError>`
/// with the pointer in the const `respond` (see [`responder`]).
pub(super) fn into_response(
    output: &ReturnType,
    response: &Type,
    binding: &Ident,
    respond: &Ident,
) -> TokenStream {
    let ty: Type = match output {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    quote!(__ncl_into_response::<#response, #ty>(#binding, #respond))
}

/// Generates the helpers that [`message_argument`] and [`into_result`] call. They go once
/// into each `const _` block of generated code.
pub(super) fn helpers(krate: &Path) -> TokenStream {
    quote! {
        #[allow(dead_code)]
        fn __ncl_clone_message<T: ::core::clone::Clone>(
            message: &#krate::Message<T>,
        ) -> #krate::Message<T> {
            ::core::clone::Clone::clone(message)
        }

        fn __ncl_into_result<R: #krate::__private::IntoHandlerResult>(
            output: R,
        ) -> ::core::result::Result<(), #krate::BoxError> {
            #krate::__private::IntoHandlerResult::into_handler_result(output)
        }
    }
}

/// Returns the argument that passes `binding`, a `&Message<T>`, to the message parameter:
/// the reference itself, or a clone for a parameter that takes the message by value.
///
/// The subscriber decodes each message once and lends it to every handler, so an owned
/// message must be a copy.
pub(super) fn message_argument(message: &MessageParam, binding: &Ident) -> TokenStream {
    if message.by_ref {
        return quote!(#binding);
    }
    let payload = &message.payload;
    quote!(__ncl_clone_message::<#payload>(#binding))
}

/// Converts `binding`, the handler's output, into `Result<(), BoxError>`.
pub(super) fn into_result(output: &ReturnType, binding: &Ident) -> TokenStream {
    let ty: Type = match output {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    quote!(__ncl_into_result::<#ty>(#binding))
}
