//! The parameters a handler may take, and the checks that free functions and methods share.
//!
//! A parameter is recognized as the message by its type's name: a path whose last segment
//! is `Message` with one type argument (`Message<T>`, `ncl::Message<T>`), possibly behind
//! `&`. The macro runs before name resolution, so a `Message` imported under another name
//! is not recognized.

use syn::ext::IdentExt;
use syn::{GenericArgument, Ident, PathArguments, PathSegment, ReturnType, Signature, Type};

use crate::errors::Errors;

/// The message parameter of a handler: `Message<T>` or `&Message<T>`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MessageParam {
    /// Position in the parameter list, counting a `self` receiver.
    pub index: usize,
    /// The declared type, `Message<T>` or `&Message<T>`, with the user's spans.
    pub ty: Type,
    /// The payload type `T`, with the user's spans.
    pub payload: Type,
    /// Whether the handler borrows the message (`&Message<T>`) rather than taking an owned
    /// copy (`Message<T>`, which needs `T: Clone`).
    pub by_ref: bool,
}

/// The state parameter of a handler function: `&S`, a reference to the router's state.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StateParam {
    /// Position in the parameter list.
    pub index: usize,
    /// The declared type, `&S`, with the user's spans.
    pub ty: Type,
    /// The state type `S`, with the user's spans.
    pub state: Type,
}

/// Kind of one handler parameter, read from its type.
pub(crate) enum ParamType {
    /// `Message<T>` or `&Message<T>`.
    Message { payload: Type, by_ref: bool },
    /// `&S`, which a handler function reads as the router state.
    State(Type),
    /// Any other type.
    Other,
}

/// Classifies the type of a parameter.
///
/// # Errors
///
/// Rejects `&mut Message<T>`, `&mut S` and a `Message` path without exactly one type
/// argument, spanned on the offending type.
pub(crate) fn classify(ty: &Type) -> syn::Result<ParamType> {
    let ty = strip(ty);
    if let Type::Reference(reference) = ty {
        let elem = strip(&reference.elem);
        if let Some(segment) = message_segment(elem) {
            if reference.mutability.is_some() {
                return Err(syn::Error::new_spanned(
                    ty,
                    "handlers cannot take `&mut Message<T>`, because every handler shares \
                     the decoded message; take `&Message<T>`, or `Message<T>` for an owned copy",
                ));
            }
            let payload = payload_type(segment)?;
            return Ok(ParamType::Message {
                payload,
                by_ref: true,
            });
        }
        if reference.mutability.is_some() {
            return Err(syn::Error::new_spanned(
                ty,
                "handlers cannot take the router state as `&mut`, because the router shares \
                 it between handlers; take `&S` and keep the parts that change behind a \
                 Mutex or an atomic",
            ));
        }
        return Ok(ParamType::State((*reference.elem).clone()));
    }
    if let Some(segment) = message_segment(ty) {
        let payload = payload_type(segment)?;
        return Ok(ParamType::Message {
            payload,
            by_ref: false,
        });
    }
    Ok(ParamType::Other)
}

/// Returns whether `ty` names `Message`, possibly behind `&` or `&mut`, whatever its
/// arguments. Such a parameter makes a method a handler method.
pub(crate) fn names_message(ty: &Type) -> bool {
    match strip(ty) {
        Type::Reference(reference) => message_segment(strip(&reference.elem)).is_some(),
        ty => message_segment(ty).is_some(),
    }
}

/// Returns the response type `R` when `output` is written `Result<R, E>` or `Result<R>`
/// (a path whose last segment is `Result`) with an `R` other than `()`. A handler with
/// such a return type responds to requests, and any other handler handles messages.
///
/// The macro runs before names are resolved, so an alias that hides `Result`, such as
/// `type Reply = Result<Pong, Error>`, makes a message handler, whose return type the
/// compiler then rejects.
pub(crate) fn response_type(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let Type::Path(path) = strip(ty) else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let segment = path.path.segments.last()?;
    if segment.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    let Some(GenericArgument::Type(response)) = arguments.args.first() else {
        return None;
    };
    match strip(response) {
        Type::Tuple(tuple) if tuple.elems.is_empty() => None,
        _ => Some(response.clone()),
    }
}

/// Pushes an error for each part of `sig` that no handler may have: a missing `async`, an
/// `unsafe` qualifier, and generic parameters or a where clause. `kind` names the handler
/// in messages, such as "handler" or "handler method".
pub(crate) fn check_qualifiers(sig: &Signature, kind: &str, errors: &mut Errors) {
    let name = sig.ident.unraw();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!(
                "{kind} `{name}` must be an `async fn`, because the router awaits the future \
                 it returns; write `async fn {name}`"
            ),
        ));
    }
    if let syn::Safety::Unsafe(unsafe_token) = &sig.safety {
        errors.push(syn::Error::new_spanned(
            unsafe_token,
            format!(
                "{kind} `{name}` cannot be `unsafe`, because the router calls it without an \
                 `unsafe` block"
            ),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "{kind} `{name}` cannot be generic, because its registration names one \
                 payload type and one state type; write concrete types"
            ),
        ));
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            format!("{kind} `{name}` cannot have a where clause; write concrete types"),
        ));
    }
}

/// Builds the error for a second message parameter, spanned on its type.
pub(crate) fn second_message(ty: &Type, first: &MessageParam) -> syn::Error {
    let first = type_text(&first.ty);
    syn::Error::new_spanned(
        ty,
        format!(
            "a handler takes exactly one message, but it already takes `{first}`; remove \
             this parameter"
        ),
    )
}

/// Builds the error for a handler without a message parameter, spanned on its name.
pub(crate) fn missing_message(ident: &Ident, kind: &str) -> syn::Error {
    syn::Error::new_spanned(
        ident,
        format!(
            "{kind} `{}` takes no message; handlers take one `Message<T>` or `&Message<T>` \
             parameter, where `T` derives NclPayload",
            ident.unraw(),
        ),
    )
}

/// Returns the source text of `ty` as the compiler prints types, for messages and for
/// comparing payload types.
pub(crate) fn type_text(ty: &Type) -> String {
    let text = quote::ToTokens::to_token_stream(ty).to_string();
    // `TokenStream::to_string` spaces out punctuation ("a :: B < C >"); closing up those
    // spaces gives the spelling users write.
    text.replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
}

/// Removes the invisible groups and parentheses that wrap a type, such as those that a
/// `macro_rules!` fragment leaves.
fn strip(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(group) => ty = &group.elem,
            Type::Paren(paren) => ty = &paren.elem,
            _ => return ty,
        }
    }
}

/// Returns the last segment of `ty` when it is a path whose last segment is `Message`.
fn message_segment(ty: &Type) -> Option<&PathSegment> {
    let Type::Path(path) = ty else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    path.path
        .segments
        .last()
        .filter(|segment| segment.ident == "Message")
}

/// Returns the `T` of `Message<T>`.
fn payload_type(segment: &PathSegment) -> syn::Result<Type> {
    if let PathArguments::AngleBracketed(arguments) = &segment.arguments
        && arguments.args.len() == 1
        && let Some(GenericArgument::Type(payload)) = arguments.args.first()
    {
        return Ok(payload.clone());
    }
    Err(syn::Error::new_spanned(
        segment,
        "`Message` takes one payload type argument, as in `Message<JobAssigned>`",
    ))
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    fn payload_of(ty: Type) -> (String, bool) {
        match classify(&ty) {
            Ok(ParamType::Message { payload, by_ref }) => (type_text(&payload), by_ref),
            Ok(_) => panic!("`{}` should be a message", type_text(&ty)),
            Err(error) => panic!("`{}` should be accepted: {error}", type_text(&ty)),
        }
    }

    #[test]
    fn message_types_are_recognized() {
        let cases: [(Type, &str, bool); 5] = [
            (parse_quote!(Message<Job>), "Job", false),
            (parse_quote!(&Message<Job>), "Job", true),
            (parse_quote!(&'_ ncl::Message<jobs::Job>), "jobs::Job", true),
            (parse_quote!(::ncl::Message<Vec<u8>>), "Vec<u8>", false),
            (parse_quote!((&Message<Job>)), "Job", true),
        ];
        for (ty, payload, by_ref) in cases {
            assert_eq!(payload_of(ty), (payload.to_owned(), by_ref));
        }
    }

    #[test]
    fn state_and_other_types_are_told_apart() {
        let state: Type = parse_quote!(&Node);
        assert!(matches!(classify(&state), Ok(ParamType::State(_))));
        let messages: Type = parse_quote!(&Messages<Job>);
        assert!(matches!(classify(&messages), Ok(ParamType::State(_))));
        let owned: Type = parse_quote!(Node);
        assert!(matches!(classify(&owned), Ok(ParamType::Other)));
        let qualified: Type = parse_quote!(<T as Trait>::Message);
        assert!(matches!(classify(&qualified), Ok(ParamType::Other)));
    }

    #[test]
    fn unsupported_forms_are_rejected() {
        let cases: [(Type, &str); 4] = [
            (
                parse_quote!(&mut Message<Job>),
                "handlers cannot take `&mut Message<T>`",
            ),
            (
                parse_quote!(&mut Node),
                "handlers cannot take the router state as `&mut`",
            ),
            (
                parse_quote!(Message),
                "`Message` takes one payload type argument",
            ),
            (
                parse_quote!(&Message<A, B>),
                "`Message` takes one payload type argument",
            ),
        ];
        for (ty, prefix) in cases {
            let Err(error) = classify(&ty) else {
                panic!("`{}` should be rejected", type_text(&ty));
            };
            assert!(error.to_string().starts_with(prefix), "{error}");
        }
    }

    #[test]
    fn names_message_sees_through_references() {
        let named: [Type; 4] = [
            parse_quote!(Message<Job>),
            parse_quote!(&mut Message<Job>),
            parse_quote!(&Message),
            parse_quote!(ncl::Message<Job>),
        ];
        for ty in named {
            assert!(names_message(&ty), "{}", type_text(&ty));
        }
        let other: Type = parse_quote!(Vec<Message<Job>>);
        assert!(!names_message(&other));
    }

    #[test]
    fn result_with_payload_makes_request_handler() {
        let cases: [(ReturnType, Option<&str>); 7] = [
            (parse_quote!(-> Result<Pong, Error>), Some("Pong")),
            (
                parse_quote!(-> std::result::Result<jobs::Info, E>),
                Some("jobs::Info"),
            ),
            (parse_quote!(-> io::Result<Pong>), Some("Pong")),
            (parse_quote!(-> Result<(), Error>), None),
            (parse_quote!(-> Result<(()), Error>), None),
            (parse_quote!(-> Reply), None),
            (ReturnType::Default, None),
        ];
        for (output, expected) in cases {
            let found = response_type(&output).map(|ty| type_text(&ty));
            assert_eq!(found.as_deref(), expected, "{}", quote::quote!(#output));
        }
    }

    #[test]
    fn type_text_closes_spaces() {
        let ty: Type = parse_quote!(&::ncl::Message<Result<a::B, C>>);
        assert_eq!(type_text(&ty), "&::ncl::Message<Result<a::B, C>>");
    }
}
