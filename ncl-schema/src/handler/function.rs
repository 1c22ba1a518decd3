//! The model of a free handler function: `async fn f(message: &Message<T>, state: &S)`.

use syn::ext::IdentExt;
use syn::{Attribute, FnArg, Ident, ItemFn, ReturnType, Type, Visibility};

use super::signature::{self, MessageParam, ParamType, StateParam};
use crate::errors::Errors;

/// A free `async fn` under `#[ncl::handler]` whose signature has been checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandlerFn {
    /// Name of the function, possibly raw (`r#type`).
    pub ident: Ident,
    /// Visibility of the function, which the generated item that names it shares.
    pub vis: Visibility,
    /// The `Message<T>` or `&Message<T>` parameter.
    pub message: MessageParam,
    /// The `&S` parameter, if any. Its `index`, compared with the message's, gives the
    /// order of the two.
    pub state: Option<StateParam>,
    /// The declared return type, which the macro checks against the supported ones.
    pub output: ReturnType,
    /// The response type `R` of a request handler, which returns `Result<R, E>` with an
    /// `R` other than `()`; `None` for a message handler.
    pub response: Option<Type>,
    /// The function's `#[cfg(...)]` attributes, which generated items must repeat.
    pub cfg_attrs: Vec<Attribute>,
}

impl HandlerFn {
    /// Builds the model of a free function under `#[ncl::handler]`.
    ///
    /// # Errors
    ///
    /// Returns one [`syn::Error`] that combines every problem found, each spanned on the
    /// offending token. The problems are a function that is not `async` (on `fn`), is
    /// `unsafe` or is generic, a `self` receiver, and no message parameter (on the name).
    /// A second message or state parameter, `&mut Message<T>`, `&mut S` and any parameter
    /// that is neither a message nor `&S` are reported on that parameter.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::HandlerFn;
    ///
    /// let item: syn::ItemFn = syn::parse_quote! {
    ///     async fn on_job(node: &Node, message: Message<JobAssigned>) {}
    /// };
    /// let handler = HandlerFn::from_item_fn(&item)?;
    /// assert!(!handler.message.by_ref);
    /// assert_eq!(handler.message.index, 1);
    /// assert_eq!(handler.state.map(|state| state.index), Some(0));
    /// # Ok::<(), syn::Error>(())
    /// ```
    pub fn from_item_fn(item: &ItemFn) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let sig = &item.sig;
        signature::check_qualifiers(sig, "handler", &mut errors);

        let mut message: Option<MessageParam> = None;
        let mut state: Option<StateParam> = None;
        // Whether some parameter names `Message`, even one rejected with its own error.
        let mut message_written = false;

        for (index, input) in sig.inputs.iter().enumerate() {
            let param = match input {
                FnArg::Receiver(receiver) => {
                    errors.push(syn::Error::new_spanned(
                        receiver,
                        "a handler function cannot take `self`; to make methods handlers, \
                         put #[ncl::handler] on their impl block",
                    ));
                    continue;
                }
                FnArg::Typed(param) => param,
            };
            message_written |= signature::names_message(&param.ty);
            match signature::classify(&param.ty) {
                Err(error) => errors.push(error),
                Ok(ParamType::Message { payload, by_ref }) => match &message {
                    Some(first) => errors.push(signature::second_message(&param.ty, first)),
                    None => {
                        message = Some(MessageParam {
                            index,
                            ty: (*param.ty).clone(),
                            payload,
                            by_ref,
                        });
                    }
                },
                Ok(ParamType::State(state_ty)) => match &state {
                    Some(_) => errors.push(syn::Error::new_spanned(
                        &param.ty,
                        "a handler takes at most one state parameter, because a router has \
                         one state; remove this parameter or combine the two types into one",
                    )),
                    None => {
                        state = Some(StateParam {
                            index,
                            ty: (*param.ty).clone(),
                            state: state_ty,
                        });
                    }
                },
                Ok(ParamType::Other) => errors.push(syn::Error::new_spanned(
                    param,
                    "unexpected handler parameter; handler functions take one `Message<T>` \
                     or `&Message<T>` and optionally one `&S`, a reference to the router's \
                     state",
                )),
            }
        }

        if message.is_none() && !message_written {
            errors.push(signature::missing_message(&sig.ident, "handler"));
        }
        let checked = errors.finish(());
        match (checked, message) {
            (Ok(()), Some(message)) => Ok(Self {
                ident: sig.ident.clone(),
                vis: item.vis.clone(),
                message,
                state,
                output: sig.output.clone(),
                response: signature::response_type(&sig.output),
                cfg_attrs: cfg_attributes(&item.attrs),
            }),
            (Err(error), _) => Err(error),
            // Unreachable: a missing message always pushes an error above.
            (Ok(()), None) => Err(signature::missing_message(&sig.ident, "handler")),
        }
    }

    /// Returns the function's name without any `r#` prefix, as its registration records it.
    pub fn rust_name(&self) -> String {
        self.ident.unraw().to_string()
    }
}

/// Returns the `#[cfg(...)]` attributes in `attrs`.
pub(super) fn cfg_attributes(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;
    use crate::handler::signature::type_text;

    /// Builds the model of the function in `source` and returns each error's message and
    /// the source text its span covers. See `attr::tests::rejected` for why it parses a
    /// string.
    fn rejected(source: &str) -> Vec<(String, String)> {
        let item: ItemFn = syn::parse_str(source).expect("test source should parse");
        let error = HandlerFn::from_item_fn(&item).expect_err("function should be rejected");
        error
            .into_iter()
            .map(|error| {
                let text = error.span().source_text().unwrap_or_default();
                (error.to_string(), text)
            })
            .collect()
    }

    fn spans(errors: &[(String, String)]) -> Vec<&str> {
        errors.iter().map(|(_, span)| span.as_str()).collect()
    }

    #[test]
    fn borrowed_message_without_state() {
        let item: ItemFn = parse_quote! {
            pub async fn r#type(message: &Message<JobAssigned>) -> Result<(), Error> {}
        };
        let handler = HandlerFn::from_item_fn(&item).unwrap();
        assert_eq!(handler.rust_name(), "type");
        assert!(handler.message.by_ref);
        assert_eq!(handler.message.index, 0);
        assert_eq!(type_text(&handler.message.payload), "JobAssigned");
        assert!(handler.state.is_none());
        assert!(matches!(handler.vis, Visibility::Public(_)));
        assert!(matches!(handler.output, ReturnType::Type(..)));
    }

    #[test]
    fn result_with_response_is_request_handler() {
        let item: ItemFn = parse_quote! {
            async fn get_job(request: &Message<GetJob>, node: &Node) -> Result<JobInfo, Error> {}
        };
        let handler = HandlerFn::from_item_fn(&item).unwrap();
        let response = handler.response.as_ref().map(type_text);
        assert_eq!(response.as_deref(), Some("JobInfo"));

        let item: ItemFn = parse_quote!(
            async fn on_job(message: &Message<Job>) -> Result<(), Error> {}
        );
        assert!(HandlerFn::from_item_fn(&item).unwrap().response.is_none());
    }

    #[test]
    fn state_in_either_position() {
        let first: ItemFn = parse_quote!(
            async fn f(node: &Node, message: Message<Job>) {}
        );
        let handler = HandlerFn::from_item_fn(&first).unwrap();
        let state = handler.state.unwrap();
        assert_eq!((state.index, handler.message.index), (0, 1));
        assert_eq!(type_text(&state.state), "Node");
        assert!(!handler.message.by_ref);

        let second: ItemFn = parse_quote!(
            async fn f(message: &Message<Job>, _: &Arc<Node>) {}
        );
        let handler = HandlerFn::from_item_fn(&second).unwrap();
        let state = handler.state.unwrap();
        assert_eq!((state.index, handler.message.index), (1, 0));
        assert_eq!(type_text(&state.state), "Arc<Node>");
    }

    #[test]
    fn cfg_attributes_are_kept() {
        let item: ItemFn = parse_quote! {
            #[cfg(feature = "jobs")]
            #[allow(unused)]
            async fn f(message: &Message<Job>) {}
        };
        let handler = HandlerFn::from_item_fn(&item).unwrap();
        assert_eq!(handler.cfg_attrs.len(), 1);
        assert!(handler.cfg_attrs[0].path().is_ident("cfg"));
    }

    #[test]
    fn non_async_is_rejected_on_fn() {
        let errors = rejected("fn on_job(message: &Message<Job>) {}");
        assert_eq!(spans(&errors), ["fn"]);
        assert!(
            errors[0]
                .0
                .starts_with("handler `on_job` must be an `async fn`")
        );
    }

    #[test]
    fn missing_message_is_rejected_on_name() {
        let errors = rejected("async fn on_job(node: &Node) {}");
        assert_eq!(spans(&errors), ["on_job"]);
        assert!(
            errors[0]
                .0
                .starts_with("handler `on_job` takes no message;")
        );
    }

    #[test]
    fn second_message_is_rejected() {
        let errors = rejected("async fn f(a: &Message<A>, b: Message<B>) {}");
        assert_eq!(spans(&errors), ["Message<B>"]);
        assert!(errors[0].0.starts_with(
            "a handler takes exactly one message, but it already takes `&Message<A>`"
        ));
    }

    #[test]
    fn second_state_is_rejected() {
        let errors = rejected("async fn f(a: &A, m: &Message<M>, b: &B) {}");
        assert_eq!(spans(&errors), ["&B"]);
        assert!(
            errors[0]
                .0
                .starts_with("a handler takes at most one state parameter")
        );
    }

    #[test]
    fn extra_parameter_is_rejected() {
        let errors = rejected("async fn f(m: &Message<M>, count: u32) {}");
        assert_eq!(spans(&errors), ["count: u32"]);
        assert!(errors[0].0.starts_with("unexpected handler parameter;"));
    }

    #[test]
    fn receiver_is_rejected() {
        let errors = rejected("async fn f(&self, m: &Message<M>) {}");
        assert_eq!(spans(&errors), ["&self"]);
        assert!(
            errors[0]
                .0
                .starts_with("a handler function cannot take `self`")
        );
    }

    #[test]
    fn generics_are_rejected() {
        let errors = rejected("async fn f<T: Payload>(m: &Message<T>) {}");
        assert_eq!(spans(&errors), ["<T: Payload>"]);
        assert!(errors[0].0.starts_with("handler `f` cannot be generic"));

        let errors = rejected("async fn f(m: &Message<Job>) where Job: Clone {}");
        assert_eq!(spans(&errors), ["where Job: Clone"]);
    }

    #[test]
    fn mutable_references_are_rejected() {
        let errors = rejected("async fn f(m: &mut Message<M>, s: &mut S) {}");
        assert_eq!(spans(&errors), ["&mut Message<M>", "&mut S"]);
        // The rejected message parameter does not also count as a missing message.
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn unsafe_is_rejected() {
        let errors = rejected("async unsafe fn f(m: &Message<M>) {}");
        assert_eq!(spans(&errors), ["unsafe"]);
    }

    #[test]
    fn all_function_errors_are_combined() {
        let errors = rejected("unsafe fn f<T>(&self, a: u8, s: &mut S) {}");
        assert_eq!(
            spans(&errors),
            ["fn", "unsafe", "<T>", "&self", "a: u8", "&mut S", "f"],
            "{errors:#?}"
        );
    }
}
