//! The traits a subscriber is built from: handlers, filters and checkpointers.

use std::future::Future;
use std::marker::PhantomData;

use crate::{AnyMessage, Metadata};

/// Error type returned by handlers and checkpointers: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Handles decoded messages.
///
/// The subscriber calls [`MessageHandler::should_process`] and, when it returns `true`,
/// [`MessageHandler::handle_message`], for every message that passed the filter and
/// decoded. An error or a panic counts the message as failed and skips its checkpoint.
///
/// Closures can serve as handlers through [`handler_fn`].
///
/// # Examples
///
/// ```
/// use ncl::{AnyMessage, BoxError, MessageHandler};
///
/// struct PrintStrings;
///
/// impl MessageHandler for PrintStrings {
///     async fn should_process(&self, message: &AnyMessage) -> bool {
///         message.is::<String>()
///     }
///
///     async fn handle_message(&self, message: &AnyMessage) -> Result<(), BoxError> {
///         println!("{:?}", message.payload::<String>());
///         Ok(())
///     }
/// }
/// ```
pub trait MessageHandler: Send + Sync + 'static {
    /// Returns `true` when this handler wants `message`. The default accepts every
    /// message.
    fn should_process(&self, message: &AnyMessage) -> impl Future<Output = bool> + Send {
        let _ = message;
        std::future::ready(true)
    }

    /// Handles one message.
    ///
    /// # Errors
    ///
    /// Any error marks the message as failed: it is counted and logged, later handlers
    /// do not see it, and no checkpoint is recorded for it.
    fn handle_message(
        &self,
        message: &AnyMessage,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Returns the name used for this handler in logs. Defaults to its Rust type name.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// Decides which messages a subscriber drops before decoding their payload.
///
/// Any `Fn(&Metadata) -> bool` closure is a filter.
///
/// # Examples
///
/// ```
/// use ncl::{MessageFilter, Metadata};
///
/// // Drops messages that the local node sent itself.
/// let filter = |metadata: &Metadata| metadata.source() == Some("node-1");
/// let mut metadata = Metadata::new();
/// metadata.insert("Source", "node-1");
/// assert!(filter.should_filter(&metadata));
/// ```
pub trait MessageFilter: Send + Sync + 'static {
    /// Returns `true` to drop the message.
    fn should_filter(&self, metadata: &Metadata) -> bool;
}

impl<F> MessageFilter for F
where
    F: Fn(&Metadata) -> bool + Send + Sync + 'static,
{
    fn should_filter(&self, metadata: &Metadata) -> bool {
        self(metadata)
    }
}

/// The default filter: drops nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopFilter;

impl MessageFilter for NoopFilter {
    fn should_filter(&self, _metadata: &Metadata) -> bool {
        false
    }
}

/// Records progress after a message was handled by every interested handler.
pub trait Checkpointer: Send + Sync + 'static {
    /// Records that `message` was processed.
    ///
    /// # Errors
    ///
    /// An error is counted as a checkpoint failure; the message is not counted as
    /// processed.
    fn checkpoint(&self, message: &AnyMessage)
    -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Returns the last recorded checkpoint, or 0 when none was recorded.
    ///
    /// # Errors
    ///
    /// Returns the error of the underlying store.
    fn last_checkpoint(&self) -> impl Future<Output = Result<i64, BoxError>> + Send;
}

/// The default checkpointer: records nothing and reports 0.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopCheckpointer;

impl Checkpointer for NoopCheckpointer {
    async fn checkpoint(&self, _message: &AnyMessage) -> Result<(), BoxError> {
        Ok(())
    }

    async fn last_checkpoint(&self) -> Result<i64, BoxError> {
        Ok(0)
    }
}

/// A handler made from a closure by [`handler_fn`].
pub struct HandlerFn<F, Fut> {
    f: F,
    _future: PhantomData<fn() -> Fut>,
}

/// Makes a handler from a closure that takes `&AnyMessage` and returns a future.
///
/// The future cannot borrow the message: read what the handler needs from it in the
/// closure body, then move that into the future.
///
/// # Examples
///
/// ```
/// use ncl::AnyMessage;
///
/// let handler = ncl::handler_fn(|message: &AnyMessage| {
///     let id = message.id().map(str::to_owned);
///     async move {
///         println!("got {id:?}");
///         Ok(())
///     }
/// });
/// # let _ = handler;
/// ```
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn<F, Fut>
where
    F: Fn(&AnyMessage) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    HandlerFn {
        f,
        _future: PhantomData,
    }
}

impl<F, Fut> MessageHandler for HandlerFn<F, Fut>
where
    F: Fn(&AnyMessage) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn handle_message(
        &self,
        message: &AnyMessage,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        (self.f)(message)
    }

    fn name(&self) -> &str {
        std::any::type_name::<F>()
    }
}

/// An ordered list of handlers, built by
/// [`SubscriberBuilder::handler`](crate::SubscriberBuilder::handler) as nested pairs so
/// that every call is resolved at compile time and no future is boxed.
///
/// It is implemented for `()` (no handler) and for `(H, M)` where `H` is a chain and
/// `M` a [`MessageHandler`]; there is nothing to implement by hand.
pub trait HandlerChain: Send + Sync + 'static {
    /// Returns the number of handlers.
    fn len(&self) -> usize;

    /// Returns `true` when the chain has no handler.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `visit` on each handler in order and stops at the first error.
    #[doc(hidden)]
    fn for_each<'a, V: HandlerVisitor + 'a>(
        &'a self,
        visitor: &'a V,
        message: &'a AnyMessage,
    ) -> impl Future<Output = Result<(), V::Error>> + Send + 'a;
}

/// What [`HandlerChain::for_each`] does with each handler.
#[doc(hidden)]
pub trait HandlerVisitor: Send + Sync {
    /// Error that stops the chain.
    type Error: Send;

    /// Runs one handler on `message`.
    fn visit<'a, H: MessageHandler>(
        &'a self,
        handler: &'a H,
        message: &'a AnyMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'a;
}

impl HandlerChain for () {
    fn len(&self) -> usize {
        0
    }

    async fn for_each<'a, V: HandlerVisitor + 'a>(
        &'a self,
        _visitor: &'a V,
        _message: &'a AnyMessage,
    ) -> Result<(), V::Error> {
        Ok(())
    }
}

impl<Rest: HandlerChain, Last: MessageHandler> HandlerChain for (Rest, Last) {
    fn len(&self) -> usize {
        self.0.len() + 1
    }

    async fn for_each<'a, V: HandlerVisitor + 'a>(
        &'a self,
        visitor: &'a V,
        message: &'a AnyMessage,
    ) -> Result<(), V::Error> {
        self.0.for_each(visitor, message).await?;
        visitor.visit(&self.1, message).await
    }
}
