//! The model of an impl block under `#[ncl::handler]`, whose handler methods become one
//! `MessageHandler` impl for the block's type.

use std::collections::HashMap;

use syn::ext::IdentExt;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, ReceiverKind, ReturnType, Type,
};

use super::function::cfg_attributes;
use super::signature::{self, MessageParam, ParamType};
use crate::errors::Errors;

/// An inherent impl block under `#[ncl::handler]` whose handler methods have been checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandlerImpl {
    /// The type the block implements, which becomes the `MessageHandler`.
    pub self_ty: Type,
    /// The handler methods, in declaration order. There is at least one, and no two take
    /// the same payload type.
    pub methods: Vec<HandlerMethod>,
}

/// A method that takes `&self` and a `Message<T>` or `&Message<T>`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandlerMethod {
    /// Name of the method, possibly raw (`r#type`).
    pub ident: Ident,
    /// The message parameter. Its `index` counts the `&self` receiver, so it is 1.
    pub message: MessageParam,
    /// The declared return type, which the macro checks against the supported ones.
    pub output: ReturnType,
    /// The response type `R` of a request handler method, which returns `Result<R, E>`
    /// with an `R` other than `()`; `None` for a message handler method.
    pub response: Option<Type>,
    /// The method's `#[cfg(...)]` attributes, which the generated dispatch must repeat.
    pub cfg_attrs: Vec<Attribute>,
}

impl HandlerImpl {
    /// Builds the model of an impl block under `#[ncl::handler]`.
    ///
    /// A method is a handler method when one of its parameters is a `Message<T>` or
    /// `&Message<T>`. Other items, including methods without such a parameter, are left
    /// alone.
    ///
    /// # Errors
    ///
    /// Returns one [`syn::Error`] that combines every problem found, each spanned on the
    /// offending token. For the block, these are a trait impl (on the trait), a generic
    /// impl (on its generics) and a block without handler methods (on its type). For each
    /// handler method, they are a missing `async`, `unsafe`, generics, a receiver other
    /// than `&self`, a second message and any other parameter. A payload type that an
    /// earlier method already takes is reported on the later payload type.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::HandlerImpl;
    ///
    /// let item: syn::ItemImpl = syn::parse_quote! {
    ///     impl Node {
    ///         async fn on_job(&self, message: &Message<JobAssigned>) {}
    ///         fn helper(&self) {}
    ///     }
    /// };
    /// let handler = HandlerImpl::from_item_impl(&item)?;
    /// assert_eq!(handler.methods.len(), 1);
    /// assert_eq!(handler.methods[0].rust_name(), "on_job");
    /// # Ok::<(), syn::Error>(())
    /// ```
    pub fn from_item_impl(item: &ItemImpl) -> syn::Result<Self> {
        let mut errors = Errors::default();
        if let Some((trait_path, _)) = &item.trait_ {
            errors.push(syn::Error::new_spanned(
                trait_path,
                "#[ncl::handler] goes on an inherent impl block such as `impl Node`, not on a \
                 trait impl; it writes the MessageHandler impl itself",
            ));
        }
        if !item.generics.params.is_empty() {
            errors.push(syn::Error::new_spanned(
                &item.generics,
                "#[ncl::handler] cannot be used on a generic impl block, because the \
                 MessageHandler impl it writes is for one concrete type",
            ));
        } else if let Some(where_clause) = &item.generics.where_clause {
            errors.push(syn::Error::new_spanned(
                where_clause,
                "#[ncl::handler] cannot be used on an impl block with a where clause",
            ));
        }

        let mut methods: Vec<HandlerMethod> = Vec::new();
        let mut handler_written = false;
        // Payload types by their token text and whether their method handles requests, so
        // that each is routed to one method of each kind.
        let mut payloads: HashMap<(bool, String), Ident> = HashMap::new();
        for impl_item in &item.items {
            let ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let is_handler = method.sig.inputs.iter().any(|input| match input {
                FnArg::Typed(param) => signature::names_message(&param.ty),
                FnArg::Receiver(_) => false,
            });
            if !is_handler {
                continue;
            }
            handler_written = true;
            let Some(handler) = check_method(method, &mut errors) else {
                continue;
            };
            // NOTE: types are compared by their text, so `Job` and `crate::Job` count as two
            // payload types. Both arms then match the same wire name and only the first runs.
            let payload = signature::type_text(&handler.message.payload);
            let is_request = handler.response.is_some();
            match payloads.get(&(is_request, payload.clone())) {
                Some(first) => {
                    let (first, second) = (first.unraw(), handler.ident.unraw());
                    let message = if is_request {
                        format!(
                            "request handler methods `{first}` and `{second}` both take \
                             `{payload}`, but a request gets one response; merge them into \
                             one method"
                        )
                    } else {
                        format!(
                            "methods `{first}` and `{second}` both take `{payload}`, but an \
                             impl block routes each payload type to one method; merge them \
                             into one method"
                        )
                    };
                    errors.push(syn::Error::new_spanned(&handler.message.payload, message));
                }
                None => {
                    payloads.insert((is_request, payload), handler.ident.clone());
                    methods.push(handler);
                }
            }
        }

        // A trait impl has its own error, which this one would only repeat.
        if !handler_written && item.trait_.is_none() {
            errors.push(syn::Error::new_spanned(
                &item.self_ty,
                "impl block has no handler methods; #[ncl::handler] on an impl block needs at \
                 least one `async fn` that takes `&self` and a `Message<T>` or `&Message<T>`",
            ));
        }
        errors.finish(Self {
            self_ty: (*item.self_ty).clone(),
            methods,
        })
    }
}

impl HandlerMethod {
    /// Returns the method's name without any `r#` prefix.
    pub fn rust_name(&self) -> String {
        self.ident.unraw().to_string()
    }
}

/// Checks one handler method, pushing each problem to `errors`. Returns the method's model
/// when it has a valid message parameter, even if other parts were rejected, so that
/// duplicate payload types are still found.
fn check_method(method: &ImplItemFn, errors: &mut Errors) -> Option<HandlerMethod> {
    let sig = &method.sig;
    let name = sig.ident.unraw();
    signature::check_qualifiers(sig, "handler method", errors);

    match sig.receiver() {
        Some(receiver) => {
            let shared = receiver.mutability.is_none()
                && matches!(receiver.kind, ReceiverKind::Reference(_, _, None));
            if !shared {
                errors.push(syn::Error::new_spanned(
                    receiver,
                    format!(
                        "handler method `{name}` must take `&self`, because the subscriber \
                         calls handlers through a shared reference; keep the fields that \
                         change behind a Mutex or an atomic"
                    ),
                ));
            }
        }
        None => errors.push(syn::Error::new_spanned(
            &sig.ident,
            format!(
                "handler method `{name}` takes no `self`; handler methods take `&self` and one \
                 `Message<T>` or `&Message<T>`"
            ),
        )),
    }

    let mut message: Option<MessageParam> = None;
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(param) = input else {
            continue;
        };
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
            Ok(ParamType::State(_) | ParamType::Other) => errors.push(syn::Error::new_spanned(
                param,
                format!(
                    "unexpected parameter of handler method `{name}`; handler methods take \
                     `&self` and one `Message<T>` or `&Message<T>`, and read state from \
                     `self`"
                ),
            )),
        }
    }

    Some(HandlerMethod {
        ident: sig.ident.clone(),
        message: message?,
        output: sig.output.clone(),
        response: signature::response_type(&sig.output),
        cfg_attrs: cfg_attributes(&method.attrs),
    })
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    /// Builds the model of the impl block in `source` and returns each error's message and
    /// the source text its span covers. See `attr::tests::rejected` for why it parses a
    /// string.
    fn rejected(source: &str) -> Vec<(String, String)> {
        let item: ItemImpl = syn::parse_str(source).expect("test source should parse");
        let error = HandlerImpl::from_item_impl(&item).expect_err("impl should be rejected");
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
    fn handler_methods_are_found() {
        let item: ItemImpl = parse_quote! {
            impl Node {
                const LIMIT: usize = 3;
                async fn on_job(&self, message: &Message<Job>) -> Result<(), E> {}
                #[cfg(feature = "status")]
                async fn on_status(&self, message: Message<Status>) {}
                fn helper(&self, count: u32) {}
                fn build(messages: Vec<Message<Job>>) -> Self {}
            }
        };
        let handler = HandlerImpl::from_item_impl(&item).unwrap();
        let names: Vec<String> = handler
            .methods
            .iter()
            .map(HandlerMethod::rust_name)
            .collect();
        assert_eq!(names, ["on_job", "on_status"]);
        assert!(handler.methods[0].message.by_ref);
        assert_eq!(handler.methods[0].message.index, 1);
        assert!(!handler.methods[1].message.by_ref);
        assert!(handler.methods[0].cfg_attrs.is_empty());
        assert_eq!(handler.methods[1].cfg_attrs.len(), 1);
    }

    #[test]
    fn duplicate_payload_names_both_methods() {
        let errors = rejected(
            "impl Node {
                async fn on_job(&self, m: &Message<Job>) {}
                async fn on_job_again(&self, m: Message<Job>) {}
            }",
        );
        assert_eq!(spans(&errors), ["Job"]);
        let expected = "methods `on_job` and `on_job_again` both take `Job`, but an impl block \
                        routes each payload type to one method; merge them into one method";
        assert_eq!(errors[0].0, expected);
    }

    #[test]
    fn request_and_message_methods_may_share_payload() {
        let item: ItemImpl = parse_quote! {
            impl Node {
                async fn on_ping(&self, m: &Message<Ping>) {}
                async fn respond_to_ping(&self, m: &Message<Ping>) -> Result<Pong, E> {}
            }
        };
        let handler = HandlerImpl::from_item_impl(&item).unwrap();
        assert!(handler.methods[0].response.is_none());
        assert!(handler.methods[1].response.is_some());

        let errors = rejected(
            "impl Node {
                async fn a(&self, m: &Message<Ping>) -> Result<Pong, E> {}
                async fn b(&self, m: Message<Ping>) -> io::Result<Pong> {}
            }",
        );
        assert_eq!(spans(&errors), ["Ping"]);
        assert!(
            errors[0]
                .0
                .starts_with("request handler methods `a` and `b` both take `Ping`")
        );
    }

    #[test]
    fn receivers_other_than_shared_are_rejected() {
        let errors = rejected(
            "impl Node {
                async fn a(&mut self, m: &Message<A>) {}
                async fn b(self, m: &Message<B>) {}
                async fn c(self: Arc<Self>, m: &Message<C>) {}
                async fn d(m: &Message<D>) {}
            }",
        );
        assert_eq!(
            spans(&errors),
            ["&mut self", "self", "self: Arc<Self>", "d"],
            "{errors:#?}"
        );
        assert!(
            errors[0]
                .0
                .starts_with("handler method `a` must take `&self`")
        );
        assert!(
            errors[3]
                .0
                .starts_with("handler method `d` takes no `self`")
        );
    }

    #[test]
    fn method_signature_errors_are_combined() {
        let errors = rejected(
            "impl Node {
                fn a(&self, m: &Message<A>) {}
                async fn b<T>(&self, m: &Message<T>) {}
                async fn c(&self, m: &Message<C>, state: &State) {}
                async fn d(&self, m: &Message<D>, n: Message<E>) {}
                async fn e(&self, m: &mut Message<E>) {}
            }",
        );
        assert_eq!(
            spans(&errors),
            [
                "fn",
                "<T>",
                "state: &State",
                "Message<E>",
                "&mut Message<E>"
            ],
            "{errors:#?}"
        );
        assert!(
            errors[2]
                .0
                .starts_with("unexpected parameter of handler method `c`")
        );
    }

    #[test]
    fn trait_and_generic_impls_are_rejected() {
        let errors =
            rejected("impl MessageHandler for Node { async fn a(&self, m: &Message<A>) {} }");
        assert_eq!(spans(&errors), ["MessageHandler"]);
        let errors = rejected("impl MessageHandler for Node { async fn handle_message(&self) {} }");
        assert_eq!(spans(&errors), ["MessageHandler"]);
        assert!(
            errors[0]
                .0
                .starts_with("#[ncl::handler] goes on an inherent impl block")
        );

        let errors = rejected("impl<T> Node<T> { async fn a(&self, m: &Message<A>) {} }");
        assert_eq!(spans(&errors), ["<T>"]);
        assert!(
            errors[0]
                .0
                .starts_with("#[ncl::handler] cannot be used on a generic impl")
        );
    }

    #[test]
    fn impl_without_handlers_is_rejected() {
        let errors = rejected("impl Node { fn helper(&self) {} }");
        assert_eq!(spans(&errors), ["Node"]);
        assert!(
            errors[0]
                .0
                .starts_with("impl block has no handler methods;")
        );
    }
}
