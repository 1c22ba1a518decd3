// In an impl block, methods that return `Result<R, E>` with a payload `R` become the
// type's `RequestHandler`. Methods that take messages stay its `MessageHandler`, and both
// kinds may take the same payload type.
#![deny(warnings)]

use std::sync::atomic::{AtomicU64, Ordering};

use ncl::metadata::keys;
use ncl::{
    AnyMessage, HandlerError, Message, MessageHandler, Metadata, NclPayload, Payload, Request,
    RequestHandler,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct Add {
    amount: u64,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct Total {
    value: u64,
}

impl Request for Add {
    type Response = Total;
}

#[derive(Serialize, Deserialize, NclPayload)]
struct Unknown;

#[derive(Default)]
struct Counter {
    total: AtomicU64,
}

#[ncl::handler]
impl Counter {
    async fn add(&self, request: &Message<Add>) -> Result<Total, std::io::Error> {
        if request.payload.amount == 0 {
            return Err(std::io::Error::other("nothing to add"));
        }
        let value = self.total.fetch_add(request.payload.amount, Ordering::Relaxed);
        Ok(Total { value: value + request.payload.amount })
    }

    async fn on_add(&self, message: &Message<Add>) {
        self.total.fetch_add(message.payload.amount, Ordering::Relaxed);
    }
}

fn message_of<T: Payload>(payload: T) -> AnyMessage {
    let mut metadata = Metadata::new();
    metadata.insert(keys::TYPE, T::NAME);
    metadata.insert(keys::PAYLOAD_ENCODING, ncl::JSON_ENCODING);
    AnyMessage::new(metadata, payload)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
}

fn main() {
    let counter = Counter::default();
    assert_eq!(RequestHandler::name(&counter), "Counter");
    assert!(counter.handles("Add"));
    assert!(!counter.handles("Unknown"));

    let response = block_on(counter.handle_request(&message_of(Add { amount: 2 }))).unwrap();
    assert_eq!(response.message_type(), "Total");
    block_on(counter.handle_message(&message_of(Add { amount: 3 }))).unwrap();
    assert_eq!(counter.total.load(Ordering::Relaxed), 5);

    let error = block_on(counter.handle_request(&message_of(Add { amount: 0 }))).unwrap_err();
    let error = error.downcast_ref::<HandlerError>().unwrap();
    assert_eq!(error.handler(), "Counter::add");

    assert!(block_on(counter.handle_request(&message_of(Unknown))).is_err());
}
