//! Typed handler functions registered by `#[ncl::handler]`, and the [`Router`] that
//! dispatches to them.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;

use futures_util::future::BoxFuture;

use crate::handler::BoxError;
use crate::registry::TypeIdHasher;
use crate::{AnyMessage, MessageHandler, PayloadRegistry, RegisteredPayload, RegistryError};

/// Calls one registered handler function with a message and the router's state.
#[doc(hidden)]
pub type HandlerCallFn =
    for<'a> fn(&'a AnyMessage, &'a (dyn Any + Send + Sync)) -> BoxFuture<'a, Result<(), BoxError>>;

/// A handler function registered at link time by `#[ncl::handler]`.
///
/// Public only so that generated code can name it.
#[doc(hidden)]
pub struct HandlerRegistration {
    /// Function name.
    pub name: &'static str,
    /// Module path and function name.
    pub path: &'static str,
    /// Wire name of the payload the function takes.
    pub payload_name: &'static str,
    /// Rust type name of the payload.
    pub payload_type_name: &'static str,
    /// `TypeId` of the payload, which the router dispatches on.
    pub payload_type: fn() -> TypeId,
    /// `TypeId` of the state type the function takes, or `None` without state.
    pub state_type: Option<fn() -> TypeId>,
    /// Rust type name of the state, or `""` without state.
    pub state_type_name: &'static str,
    /// Calls the function.
    pub call: HandlerCallFn,
}

inventory::collect!(HandlerRegistration);

/// Names one handler function for [`Router::route`] on a router with state `S`.
///
/// `#[ncl::handler]` implements it for a hidden item that shares the function's name
/// (in the type namespace), so `router.route::<on_job>()` names the function `on_job`.
/// A function that takes `&S` implements `HandlerItem<S>`, and a function without state
/// implements it for every `S`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler for a router with state `{S}`",
    label = "not a handler for state `{S}`",
    note = "`route` takes the name of a #[ncl::handler] function whose state parameter is `&{S}` or absent"
)]
pub trait HandlerItem<S> {
    /// The function's registration.
    const REGISTRATION: &'static HandlerRegistration;
}

/// Error returned by a handler, with the name of the handler that failed.
///
/// [`Router`] and the `MessageHandler` impls that `#[ncl::handler]` generates wrap
/// handler errors in this, so that the subscriber's logs name the handler.
#[derive(Debug, thiserror::Error)]
#[error("handler {handler} failed: {source}")]
pub struct HandlerError {
    handler: &'static str,
    #[source]
    source: BoxError,
}

impl HandlerError {
    /// Wraps `source`, the error of the handler named `handler`.
    pub fn new(handler: &'static str, source: impl Into<BoxError>) -> Self {
        Self {
            handler,
            source: source.into(),
        }
    }

    /// Returns the name of the handler that failed.
    pub fn handler(&self) -> &'static str {
        self.handler
    }

    /// Returns the handler's own error.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

/// A description of one registered handler function, from [`registrations`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredHandler {
    /// Module path and function name.
    pub path: &'static str,
    /// Wire name of the payload it takes.
    pub payload: &'static str,
    /// Rust type name of the state it takes, or `None`.
    pub state: Option<&'static str>,
}

/// The payload types and handler functions registered in the linked program by
/// `#[derive(NclPayload)]` and `#[ncl::handler]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registrations {
    /// Payload types, sorted by wire name.
    pub payloads: Vec<RegisteredPayload>,
    /// Handler functions, sorted by payload wire name, then path.
    pub handlers: Vec<RegisteredHandler>,
}

/// Lists every payload type and handler function registered through `inventory`.
///
/// A crate whose items the linker dropped is missing from the list; see
/// [`PayloadRegistry`]'s linker caveat.
///
/// # Errors
///
/// Returns the registry error when two payload types share a wire name.
pub fn registrations() -> Result<Registrations, RegistryError> {
    let payloads = PayloadRegistry::from_inventory()?.entries();
    let mut handlers: Vec<RegisteredHandler> = inventory::iter::<HandlerRegistration>
        .into_iter()
        .map(|registration| RegisteredHandler {
            path: registration.path,
            payload: registration.payload_name,
            state: registration
                .state_type
                .map(|_| registration.state_type_name),
        })
        .collect();
    handlers.sort_by(|a, b| (a.payload, a.path).cmp(&(b.payload, b.path)));
    Ok(Registrations { payloads, handlers })
}

/// Dispatches messages to `#[ncl::handler]` functions by the payload's wire name.
///
/// A router is a [`MessageHandler`], so it plugs into a
/// [`Subscriber`](crate::Subscriber) like any other. It holds the application state
/// `S` that handler functions may take by reference; handlers that take no state run
/// in a router of any state type.
///
/// The routing table maps payload types to functions and is built once; dispatching a
/// message is one hash lookup of its payload's `TypeId`, which the registry chose from
/// the wire type name. The payload is decoded once by the subscriber, however
/// many handlers take it.
///
/// # Examples
///
/// ```
/// use ncl::{Message, NclPayload, Router};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Serialize, Deserialize, NclPayload)]
/// struct JobAssigned {
///     job_id: String,
/// }
///
/// struct Node {
///     name: String,
/// }
///
/// #[ncl::handler]
/// async fn on_job(message: &Message<JobAssigned>, node: &Node) {
///     println!("{} runs {}", node.name, message.payload.job_id);
/// }
///
/// // Every registered handler whose state is `Node` (or none):
/// let router = Router::new(Node { name: "node-1".into() });
/// assert!(router.routes_payload("JobAssigned"));
///
/// // Or a chosen subset:
/// let router = Router::empty(Node { name: "node-1".into() }).route::<on_job>();
/// assert_eq!(router.len(), 1);
/// ```
pub struct Router<S = ()> {
    state: S,
    routes: HashMap<TypeId, Vec<&'static HandlerRegistration>, BuildHasherDefault<TypeIdHasher>>,
}

impl<S: Send + Sync + 'static> Router<S> {
    /// Creates a router with every registered handler function that takes state of
    /// type `S` or no state.
    pub fn new(state: S) -> Self {
        let mut router = Self::empty(state);
        for registration in inventory::iter::<HandlerRegistration> {
            if router.accepts(registration) {
                router.insert(registration);
            } else {
                tracing::debug!(
                    handler = registration.path,
                    state = registration.state_type_name,
                    "handler left out of router: it takes another state type"
                );
            }
        }
        router
    }

    /// Creates a router with no handlers; add them with [`Router::route`].
    pub fn empty(state: S) -> Self {
        Self {
            state,
            routes: HashMap::default(),
        }
    }

    /// Adds the handler function `H` (the name of a `#[ncl::handler]` function).
    ///
    /// Adding the same function twice has no effect.
    ///
    /// A function that takes another state type fails to compile, because only functions
    /// whose state is `S` or none implement `HandlerItem<S>`.
    pub fn route<H: HandlerItem<S>>(mut self) -> Self {
        let registration = H::REGISTRATION;
        if self.accepts(registration) {
            self.insert(registration);
        }
        self
    }

    /// Returns the state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Returns `true` when some handler takes payloads of wire name `name`.
    pub fn routes_payload(&self, name: &str) -> bool {
        self.routes
            .values()
            .any(|handlers| handlers.iter().any(|h| h.payload_name == name))
    }

    /// Returns the number of handler functions.
    pub fn len(&self) -> usize {
        self.routes.values().map(Vec::len).sum()
    }

    /// Returns `true` when the router has no handler.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    fn accepts(&self, registration: &HandlerRegistration) -> bool {
        registration
            .state_type
            .is_none_or(|state_type| state_type() == TypeId::of::<S>())
    }

    fn insert(&mut self, registration: &'static HandlerRegistration) {
        let handlers = self
            .routes
            .entry((registration.payload_type)())
            .or_default();
        // The inventory entry and `HandlerItem::REGISTRATION` are two copies of one
        // registration, so functions are distinguished by path.
        if !handlers.iter().any(|h| h.path == registration.path) {
            handlers.push(registration);
            handlers.sort_by_key(|h| h.path);
        }
    }
}

impl<S: Send + Sync + 'static> MessageHandler for Router<S> {
    // Routing goes by the payload's Rust type, which the registry chose from the wire
    // type name when it decoded the message; comparing type ids needs no metadata lookup.
    async fn should_process(&self, message: &AnyMessage) -> bool {
        self.routes.contains_key(&message.payload_type_id())
    }

    async fn handle_message(&self, message: &AnyMessage) -> Result<(), BoxError> {
        let Some(handlers) = self.routes.get(&message.payload_type_id()) else {
            return Ok(());
        };
        for registration in handlers {
            (registration.call)(message, &self.state)
                .await
                .map_err(|error| HandlerError::new(registration.name, error))?;
        }
        Ok(())
    }

    fn name(&self) -> &str {
        "ncl::Router"
    }
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut routes: Vec<(&str, Vec<&str>)> = self
            .routes
            .values()
            .map(|handlers| {
                let name = handlers.first().map_or("", |h| h.payload_name);
                (name, handlers.iter().map(|h| h.path).collect())
            })
            .collect();
        routes.sort();
        f.debug_struct("Router")
            .field("routes", &routes)
            .finish_non_exhaustive()
    }
}

/// Support functions for the code `#[ncl::handler]` generates.
#[doc(hidden)]
pub(crate) mod support {
    use std::any::Any;

    use super::BoxError;
    use crate::{AnyMessage, Message, Payload};

    /// Error for a message whose payload is not the type its wire name promised, which
    /// happens only when two registries disagree.
    #[derive(Debug, thiserror::Error)]
    #[error("message of type {found} was routed to a handler of {expected}")]
    pub struct PayloadMismatch {
        expected: &'static str,
        found: &'static str,
    }

    /// Returns the typed view of `message`.
    ///
    /// `T` is bounded by `Any` only, so that a type that is not a payload is reported
    /// once, by [`assert_payload`], and not again here.
    pub fn typed<T: Any>(message: &AnyMessage) -> Result<&Message<T>, BoxError> {
        message.message::<T>().ok_or_else(|| {
            PayloadMismatch {
                expected: std::any::type_name::<T>(),
                found: message.payload_type_name(),
            }
            .into()
        })
    }

    /// Returns the router state as `S`.
    pub fn state<S: Any>(state: &(dyn Any + Send + Sync)) -> Result<&S, BoxError> {
        state.downcast_ref::<S>().ok_or_else(|| {
            format!(
                "router state is not a {}; build the router with that state",
                std::any::type_name::<S>()
            )
            .into()
        })
    }

    /// Converts what a handler returns into the result the router expects.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a supported handler return type",
        label = "return `()` or `Result<(), E>` with `E: std::error::Error + Send + Sync + 'static`"
    )]
    pub trait IntoHandlerResult {
        /// Performs the conversion.
        fn into_handler_result(self) -> Result<(), BoxError>;
    }

    impl IntoHandlerResult for () {
        fn into_handler_result(self) -> Result<(), BoxError> {
            Ok(())
        }
    }

    impl<E: std::error::Error + Send + Sync + 'static> IntoHandlerResult for Result<(), E> {
        fn into_handler_result(self) -> Result<(), BoxError> {
            self.map_err(|error| Box::new(error) as BoxError)
        }
    }

    /// Compiles only for return types a handler may have; generated code calls it with
    /// the span of the declared return type.
    pub fn assert_handler_return<R: IntoHandlerResult>() {}

    /// Compiles only for payload types. Generated code calls it with the span of the
    /// payload type, in the const that reads `T::NAME`, so that a type that is not a
    /// payload is reported once. A const can call only a `const fn`.
    pub const fn assert_payload<T: Payload>() {}

    /// Compiles only when `T: Clone`, needed by handlers that take `Message<T>` by value.
    pub fn assert_clone_payload<T: Clone>() {}
}
