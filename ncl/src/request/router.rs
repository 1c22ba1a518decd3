//! Request handler functions registered by `#[ncl::handler]`, and the
//! [`RequestRouter`] that dispatches requests to them.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;

use futures_util::future::BoxFuture;

use super::{AnyResponse, RequestHandler};
use crate::handler::BoxError;
use crate::{AnyMessage, HandlerError};

/// Calls one registered request handler function with a request and the router's state.
#[doc(hidden)]
pub type RequestCallFn = for<'a> fn(
    &'a AnyMessage,
    &'a (dyn Any + Send + Sync),
) -> BoxFuture<'a, Result<AnyResponse, BoxError>>;

/// A request handler function registered at link time by `#[ncl::handler]`.
///
/// Public only so that generated code can name it.
#[doc(hidden)]
pub struct RequestHandlerRegistration {
    /// Function name.
    pub name: &'static str,
    /// Module path and function name.
    pub path: &'static str,
    /// Wire name of the request payload the function takes.
    pub payload_name: &'static str,
    /// `TypeId` of the state type the function takes, or `None` without state.
    pub state_type: Option<fn() -> TypeId>,
    /// Rust type name of the state, or `""` without state.
    pub state_type_name: &'static str,
    /// Calls the function.
    pub call: RequestCallFn,
}

inventory::collect!(RequestHandlerRegistration);

/// Names one request handler function for [`RequestRouter::route`] on a router with
/// state `S`.
///
/// `#[ncl::handler]` implements it for the hidden item that shares the function's name,
/// as [`HandlerItem`](crate::HandlerItem) for message handlers.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a request handler for a router with state `{S}`",
    label = "not a request handler for state `{S}`",
    note = "`RequestRouter::route` takes the name of a #[ncl::handler] function that returns `Result<R, E>` and whose state parameter is `&{S}` or absent"
)]
pub trait RequestHandlerItem<S> {
    /// The function's registration.
    const REGISTRATION: &'static RequestHandlerRegistration;
}

/// Error returned by [`RequestRouter::new`] when two registered functions take the same
/// request type, since a request gets one response.
#[derive(Debug, thiserror::Error)]
#[error(
    "request handlers {first} and {second} both take requests of type {payload:?}; keep one, \
     or build the router with RequestRouter::empty(state).route::<f>()"
)]
pub struct DuplicateRoute {
    /// Wire name of the request type.
    pub payload: &'static str,
    /// Path of the handler that sorts first.
    pub first: &'static str,
    /// Path of the other handler.
    pub second: &'static str,
}

/// Dispatches requests to `#[ncl::handler]` request functions by the payload's wire name.
///
/// It is a [`RequestHandler`], so it goes into a [`Responder`](super::Responder). It holds
/// the state `S` that handler functions may take by reference; functions without state
/// run in a router of any state type. Each request type has one function.
///
/// # Examples
///
/// ```
/// use ncl::{ErrorResponse, Message, NclPayload, Request, RequestHandler, RequestRouter};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct Ping {
///     seq: u64,
/// }
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct Pong {
///     seq: u64,
/// }
///
/// impl Request for Ping {
///     type Response = Pong;
/// }
///
/// #[ncl::handler]
/// async fn ping(request: &Message<Ping>) -> Result<Pong, ErrorResponse> {
///     Ok(Pong { seq: request.payload.seq })
/// }
///
/// let router = RequestRouter::empty(()).route::<ping>();
/// assert!(router.handles("Ping"));
/// assert_eq!(router.len(), 1);
/// ```
pub struct RequestRouter<S = ()> {
    state: S,
    routes: HashMap<&'static str, &'static RequestHandlerRegistration>,
}

impl<S: Send + Sync + 'static> RequestRouter<S> {
    /// Creates a router with every registered request handler function that takes state
    /// of type `S` or no state.
    ///
    /// # Errors
    ///
    /// Returns [`DuplicateRoute`] when two such functions take the same request type.
    pub fn new(state: S) -> Result<Self, DuplicateRoute> {
        let mut registrations: Vec<&'static RequestHandlerRegistration> =
            inventory::iter::<RequestHandlerRegistration>
                .into_iter()
                .filter(|registration| accepts::<S>(registration))
                .collect();
        registrations.sort_by_key(|registration| (registration.payload_name, registration.path));
        let mut router = Self::empty(state);
        for registration in registrations {
            if let Some(existing) = router.routes.get(registration.payload_name) {
                // The inventory can hold one function twice when a crate is linked twice.
                if existing.path == registration.path {
                    continue;
                }
                return Err(DuplicateRoute {
                    payload: registration.payload_name,
                    first: existing.path,
                    second: registration.path,
                });
            }
            router
                .routes
                .insert(registration.payload_name, registration);
        }
        Ok(router)
    }

    /// Creates a router with no handlers; add them with [`RequestRouter::route`].
    pub fn empty(state: S) -> Self {
        Self {
            state,
            routes: HashMap::new(),
        }
    }

    /// Adds the request handler function `H` (the name of a `#[ncl::handler]` function).
    ///
    /// It replaces a function added before for the same request type. A function that
    /// takes another state type fails to compile.
    pub fn route<H: RequestHandlerItem<S>>(mut self) -> Self {
        let registration = H::REGISTRATION;
        if accepts::<S>(registration) {
            self.routes.insert(registration.payload_name, registration);
        }
        self
    }

    /// Returns the state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Returns the number of routed request types.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Returns `true` when the router has no handler.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// Returns `true` when `registration` takes no state or state of type `S`.
fn accepts<S: 'static>(registration: &RequestHandlerRegistration) -> bool {
    registration
        .state_type
        .is_none_or(|state_type| state_type() == TypeId::of::<S>())
}

impl<S: Send + Sync + 'static> RequestHandler for RequestRouter<S> {
    fn handles(&self, message_type: &str) -> bool {
        self.routes.contains_key(message_type)
    }

    async fn handle_request(&self, request: &AnyMessage) -> Result<AnyResponse, BoxError> {
        let message_type = request.message_type();
        let Some(registration) = message_type.and_then(|name| self.routes.get(name)) else {
            return Err(super::handler::support::unhandled(
                "ncl::RequestRouter",
                message_type,
            ));
        };
        (registration.call)(request, &self.state)
            .await
            .map_err(|error| Box::new(HandlerError::new(registration.name, error)) as BoxError)
    }

    fn name(&self) -> &str {
        "ncl::RequestRouter"
    }
}

impl<S> fmt::Debug for RequestRouter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut routes: Vec<(&str, &str)> = self
            .routes
            .iter()
            .map(|(name, registration)| (*name, registration.path))
            .collect();
        routes.sort_unstable();
        f.debug_struct("RequestRouter")
            .field("routes", &routes)
            .finish_non_exhaustive()
    }
}
