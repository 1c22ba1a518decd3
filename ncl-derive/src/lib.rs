//! Derive and attribute macros for the `ncl` crate.
//!
//! Use them through `ncl`, which re-exports them: `use ncl::NclPayload;` and
//! `#[ncl::handler]`. The generated code names items of `ncl`, so this crate is of no use
//! without it.

mod handler;
mod payload;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `ncl::Payload` for a struct or enum, giving it a wire name, and registers the
/// type so that `ncl::PayloadRegistry::from_inventory` finds it.
///
/// The type must also implement `serde::Serialize` and `serde::Deserialize`, usually by
/// deriving them, and must be `Send + Sync + 'static`.
///
/// # Expansion
///
/// Inside an anonymous `const _: () = { ... };` block, the derive writes:
///
/// - an `impl ncl::Payload` whose `NAME` is the wire name: the type's identifier (without
///   any `r#` prefix), or the `name` given in `#[ncl(...)]`;
/// - for a type without generic parameters, an `inventory::submit!` of the type's
///   registration, which records its wire name, its path (`module_path!()` and the
///   identifier) and a JSON decoder. Every registry built with
///   `PayloadRegistry::from_inventory` then contains the type.
///
/// The code names only `::core` and the `ncl` crate path, so it adds nothing to the
/// caller's namespace.
///
/// # Attributes
///
/// Keys go in `#[ncl(...)]` on the type. They may be split over several `#[ncl]`
/// attributes, but each key may be given once.
///
/// - `name = "..."`: the wire name, written to the `Type` metadata key of each message.
///   Defaults to the type's identifier. It must not be empty or whitespace only, and it
///   must match the name that the other side registered for the type.
/// - `crate = "..."`: the path to the `ncl` crate, for crates that reach `ncl` through a
///   re-export, such as `crate = "my_reexports::ncl"`. The path is resolved where the type
///   is defined. Defaults to `::ncl`.
///
/// # Generic types
///
/// A generic type needs an explicit `name`, because all its instantiations share one wire
/// name and the attribute makes that choice visible. It gets the `Payload` impl for each instantiation that is `Serialize + DeserializeOwned + Send +
/// Sync + 'static`, but is not registered at link time, because the derive cannot know
/// which instantiations the program uses. Register each one at run time with
/// `PayloadRegistry::register_payload::<Page<Job>>()`. Lifetime parameters are rejected,
/// because a payload must own its data.
///
/// # Errors
///
/// Mistakes are compile errors that point at the offending token. The derive rejects an
/// unknown key, a key given twice, a value that is not a string literal, an empty name, and
/// a `crate` value that is not a path. It also rejects a generic type without `name`, a
/// lifetime parameter, `#[ncl]` on a field or variant, and a union.
///
/// # Examples
///
/// ```
/// use ncl::{NclPayload, Payload};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct JobAssigned {
///     job_id: String,
/// }
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// #[ncl(name = "NodeState/v2")]
/// enum NodeState {
///     Healthy,
///     Draining { until: u64 },
/// }
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// #[ncl(name = "Page")]
/// struct Page<T> {
///     items: Vec<T>,
/// }
///
/// assert_eq!(JobAssigned::NAME, "JobAssigned");
/// assert_eq!(NodeState::NAME, "NodeState/v2");
/// assert_eq!(Page::<JobAssigned>::NAME, "Page");
/// ```
///
/// A misspelt key is a compile error that lists the valid keys:
///
/// ```compile_fail
/// use ncl::NclPayload;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// #[ncl(rename = "Job")] // error: unknown #[ncl] key `rename`; valid keys are `name`, `crate`
/// struct JobAssigned {
///     job_id: String,
/// }
/// ```
#[proc_macro_derive(NclPayload, attributes(ncl))]
pub fn derive_ncl_payload(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    payload::derive(&input).into()
}

/// Turns an `async fn`, or the `async` methods of an impl block, into message handlers
/// that receive typed messages, or into request handlers that respond to typed requests.
///
/// The attribute goes on a free function or on a whole impl block, not on one method.
///
/// # Free functions
///
/// A handler function takes one message, `Message<T>` or `&Message<T>` where `T` derives
/// `NclPayload`, and optionally one `&S`, a reference to the router's state, before or after
/// the message. It returns `()` or `Result<(), E>` with
/// `E: std::error::Error + Send + Sync + 'static`, and its future must be `Send`:
///
/// ```text
/// async fn f(message: &Message<T>)
/// async fn f(message: Message<T>)               // T: Clone
/// async fn f(message: &Message<T>, state: &S)   // or (state: &S, message: &Message<T>)
/// async fn f(message: &Message<T>) -> Result<(), E>
/// ```
///
/// `E` must implement `std::error::Error` itself. `Box<dyn Error + Send + Sync>` (and so
/// `ncl::BoxError`) does not, so a handler that collects several error types needs its
/// own error enum.
///
/// The function itself is kept unchanged. Beside it the macro writes a hidden braced
/// struct of the same name, which lives only in the type namespace, so it does not clash
/// with the function and `Router::route::<f>()` can name it. In an anonymous
/// `const _: () = { ... };` it then writes:
///
/// - a call function that takes the message and the state type-erased, gets the
///   `Message<T>` and the `S` out of them, and awaits `f`;
/// - a registration that records the function's name and path, the payload's wire name,
///   the state type and the call function;
/// - the struct's `ncl::HandlerItem` impl, which points to the registration;
/// - an `inventory` submission of the registration, for `Router::new` to find.
///
/// `ncl::Router::new(state)` builds a router from every registered handler function whose
/// state type is `S` or none. `Router::empty(state).route::<f>()` adds only the functions
/// it names, and naming a function that takes another state type is a compile error. A
/// router is a `MessageHandler`, so it goes into a subscriber like any other handler.
///
/// # Impl blocks
///
/// On an inherent impl block, every method with a `Message<T>` or `&Message<T>` parameter
/// is a handler method. It must be an `async fn` that takes `&self` and that message, and
/// nothing else; state lives in the type's fields. Other items of the block are left
/// alone. No two handler methods may take the same payload type, as written: `Job` and
/// `jobs::Job` count as two types, and only the first method would run.
///
/// The block is kept unchanged, and the macro writes the type's `ncl::MessageHandler`
/// impl. Its `should_process` returns `true` when the message's payload is of one of the
/// methods' payload types (it compares `TypeId`s, so it reads no metadata), and its
/// `handle_message` matches the message's wire type name against those types' names and
/// calls the method of the matching arm. A method's error is wrapped in an `ncl::HandlerError`
/// named `Type::method`. The handler's `name` is the type as written in the impl header.
/// A value of the type goes into a subscriber as a handler. The methods are not
/// registered, so `Router` does not see them.
///
/// # Request handlers
///
/// A function or method whose return type is written `Result<R, E>` (any path whose last
/// segment is `Result`, so `io::Result<R>` too) with an `R` other than `()` is a request
/// handler: it responds to requests of its message's type `T` with an `R`. `T` must implement
/// `ncl::Request` with `type Response = R`, and `R` must derive `NclPayload`. Parameters
/// and receivers follow the rules above:
///
/// ```text
/// async fn f(request: &Message<T>) -> Result<T::Response, E>
/// async fn f(request: Message<T>, state: &S) -> Result<T::Response, E>
/// async fn m(&self, request: &Message<T>) -> io::Result<T::Response>
/// ```
///
/// A request handler function registers separately from message handlers: it implements
/// `ncl::RequestHandlerItem` instead of `HandlerItem`, and `ncl::RequestRouter` (not
/// `Router`) collects it. In an impl block, the request handler methods become the type's
/// `ncl::RequestHandler` impl, whose `handles` returns `true` for their request types and
/// whose `handle_request` calls the matching method; the other handler methods stay its
/// `MessageHandler`. One message handler and one request handler method may take the same
/// payload type. A handler's error is sent back as an `ncl::ErrorResponse`: the one in the
/// error's source chain, or one of code `InternalError`.
///
/// A return type alias that hides `Result`, such as `type Reply = Result<Pong, E>`, is not
/// recognized, because the macro runs before names are resolved.
///
/// # Owned and borrowed messages
///
/// The subscriber decodes each message once and lends the same `Message<T>` to every
/// handler that wants it. A handler that takes `&Message<T>` reads that shared copy for
/// free. A handler that takes `Message<T>` gets a clone, so `T` must be `Clone` and each
/// call pays for the copy. Take the message by value only when the handler keeps the
/// payload.
///
/// # Attributes
///
/// - `crate = "..."`: the path to the `ncl` crate, for crates that reach `ncl` through a
///   re-export, such as `#[ncl::handler(crate = "my_reexports::ncl")]`. Defaults to
///   `::ncl`.
///
/// # Errors
///
/// Mistakes are compile errors that point at the offending code, and the item is still
/// emitted beside them, so the rest of the crate and IDEs see it. The macro rejects:
///
/// - a handler that is not `async` (reported on `fn`), is `unsafe` or is generic;
/// - no message parameter (reported on the name), a second message or state parameter,
///   `&mut Message<T>`, `&mut S`, and any other parameter;
/// - a `self` receiver on a free function;
/// - in an impl block, a receiver other than `&self`, a payload type that another method
///   of the same kind (message or request handler) already takes, a trait impl and a
///   generic impl;
/// - an unknown attribute key.
///
/// The compiler then reports a payload type that does not derive `NclPayload`, an owned
/// payload type that is not `Clone` and an unsupported return type, each on the type. For
/// a request handler it also reports a request type without an `ncl::Request` impl and a
/// response type other than the request's `Response` (both on the request type), and a
/// response type that does not derive `NclPayload` (on the response type).
///
/// The message parameter is recognized by its type's name, `Message`, because the macro
/// runs before names are resolved. Import `ncl::Message` under that name.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// use ncl::{AnyMessage, Message, MessageHandler, Metadata, NclPayload, Router};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Serialize, Deserialize, NclPayload)]
/// struct JobAssigned {
///     job_id: String,
/// }
///
/// struct Node {
///     started: AtomicUsize,
/// }
///
/// #[ncl::handler]
/// async fn on_job(message: &Message<JobAssigned>, node: &Node) {
///     println!("starting {}", message.payload.job_id);
///     node.started.fetch_add(1, Ordering::Relaxed);
/// }
///
/// #[derive(Default)]
/// struct Audit {
///     seen: AtomicUsize,
/// }
///
/// #[ncl::handler]
/// impl Audit {
///     async fn on_job(&self, message: Message<JobAssigned>) -> Result<(), std::io::Error> {
///         let _job_id: String = message.payload.job_id;
///         self.seen.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), ncl::BoxError> {
///     let mut metadata = Metadata::new();
///     metadata.insert("Type", "JobAssigned");
///     let message = AnyMessage::new(metadata, JobAssigned { job_id: "j-1".into() });
///
///     let router = Router::empty(Node { started: AtomicUsize::new(0) }).route::<on_job>();
///     router.handle_message(&message).await?;
///     assert_eq!(router.state().started.load(Ordering::Relaxed), 1);
///
///     let audit = Audit::default();
///     assert!(audit.should_process(&message).await);
///     audit.handle_message(&message).await?;
///     assert_eq!(audit.seen.load(Ordering::Relaxed), 1);
///     Ok(())
/// }
/// ```
///
/// A handler must take its message; one that takes only state does not compile:
///
/// ```compile_fail
/// struct Node;
///
/// #[ncl::handler]
/// async fn on_tick(node: &Node) {} // error: handler `on_tick` takes no message
/// ```
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}
