//! Calls that make the compiler check what the syntax cannot show: that the payload type
//! is a payload, that an owned payload is `Clone`, and that the return type is supported.
//!
//! Each call is built with `quote_spanned!` on the user's type, so the compiler reports an
//! unmet bound on that type, with the `on_unimplemented` message of the trait involved.

use ncl_schema::MessageParam;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Path, ReturnType};

/// Checks that the payload type of `message` is a payload and, when the handler takes the
/// message by value, that it is `Clone`.
pub(super) fn message(message: &MessageParam, krate: &Path) -> TokenStream {
    let payload = &message.payload;
    let is_payload = quote_spanned! {payload.span()=>
        #krate::__private::assert_payload::<#payload>();
    };
    if message.by_ref {
        return is_payload;
    }
    let is_clone = quote_spanned! {message.ty.span()=>
        #krate::__private::assert_clone_payload::<#payload>();
    };
    quote! {
        #is_payload
        #is_clone
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

/// Converts `value`, the handler's output, into `Result<(), BoxError>`. The call is spanned
/// on the return type, like the check of [`output`], so an unsupported type is reported
/// there.
pub(super) fn into_result(output: &ReturnType, value: &TokenStream, krate: &Path) -> TokenStream {
    let span = match output {
        ReturnType::Default => proc_macro2::Span::call_site(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    quote_spanned! {span=>
        #krate::__private::IntoHandlerResult::into_handler_result(#value)
    }
}
