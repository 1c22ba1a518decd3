//! A message handler for one payload type, made from a closure.

use std::future::Future;
use std::marker::PhantomData;

use ncl::{AnyMessage, BoxError, MessageHandler, Payload};

/// A handler that takes the messages whose payload is a `P` and passes a clone of the
/// payload to a closure. Messages of other types are left to the subscriber's other
/// handlers.
pub struct TypedHandler<P, F, Fut> {
    handle: F,
    _types: PhantomData<fn(P) -> Fut>,
}

/// Makes a [`TypedHandler`] that calls `handle` with each payload of type `P`.
///
/// # Examples
///
/// ```
/// use examples::cluster::messages::Heartbeat;
/// use examples::typed_handler;
///
/// let handler = typed_handler(|heartbeat: Heartbeat| async move {
///     println!("{} is alive", heartbeat.node_id);
///     Ok(())
/// });
/// # let _ = handler;
/// ```
pub fn typed_handler<P, F, Fut>(handle: F) -> TypedHandler<P, F, Fut>
where
    P: Payload + Clone,
    F: Fn(P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    TypedHandler {
        handle,
        _types: PhantomData,
    }
}

impl<P, F, Fut> MessageHandler for TypedHandler<P, F, Fut>
where
    P: Payload + Clone,
    F: Fn(P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn should_process(&self, message: &AnyMessage) -> impl Future<Output = bool> + Send {
        std::future::ready(message.is::<P>())
    }

    fn handle_message(
        &self,
        message: &AnyMessage,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let handled = message.payload::<P>().cloned().map(&self.handle);
        let actual_type = message.payload_type_name();
        async move {
            match handled {
                Some(future) => future.await,
                // Reached only when a subscriber calls this handler without asking
                // should_process first.
                None => Err(format!("expected a {} payload, got {actual_type}", P::NAME).into()),
            }
        }
    }

    fn name(&self) -> &str {
        P::NAME
    }
}
