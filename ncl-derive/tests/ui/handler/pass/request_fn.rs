// A function that returns `Result<R, E>` with a payload `R` handles requests. It is
// registered for `RequestRouter`, with or without state, and takes the request by
// reference or by value.
#![deny(warnings)]

use std::collections::HashMap;

use ncl::metadata::keys;
use ncl::request::codes;
use ncl::{
    AnyMessage, ErrorResponse, HandlerError, Message, Metadata, NclPayload, Payload, Request,
    RequestHandler, RequestRouter,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NclPayload)]
struct GetJob {
    job_id: String,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct JobInfo {
    state: String,
}

impl Request for GetJob {
    type Response = JobInfo;
}

#[derive(Clone, Serialize, Deserialize, NclPayload)]
struct Ping {
    seq: u64,
}

#[derive(Serialize, Deserialize, NclPayload)]
struct Pong {
    seq: u64,
}

impl Request for Ping {
    type Response = Pong;
}

struct Store {
    states: HashMap<String, String>,
}

#[ncl::handler]
async fn get_job(request: &Message<GetJob>, store: &Store) -> Result<JobInfo, ErrorResponse> {
    match store.states.get(&request.payload.job_id) {
        Some(state) => Ok(JobInfo { state: state.clone() }),
        None => Err(ErrorResponse::new(codes::NOT_FOUND, "no such job")),
    }
}

#[ncl::handler]
async fn ping(request: Message<Ping>) -> std::io::Result<Pong> {
    Ok(Pong { seq: request.payload.seq })
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
    let store = Store {
        states: HashMap::from([("j-1".to_owned(), "running".to_owned())]),
    };
    let router = RequestRouter::new(store).unwrap();
    assert_eq!(router.len(), 2);
    assert!(router.handles("GetJob"));
    assert!(router.handles("Ping"));

    let known = message_of(GetJob { job_id: "j-1".to_owned() });
    let response = block_on(router.handle_request(&known)).unwrap();
    assert_eq!(response.message_type(), "JobInfo");

    let unknown = message_of(GetJob { job_id: "j-2".to_owned() });
    let error = block_on(router.handle_request(&unknown)).unwrap_err();
    let error = error.downcast_ref::<HandlerError>().unwrap();
    assert_eq!(error.handler(), "get_job");
    assert!(error.inner().is::<ErrorResponse>());

    let pong = block_on(router.handle_request(&message_of(Ping { seq: 3 }))).unwrap();
    assert_eq!(pong.message_type(), "Pong");

    // A stateless function goes into a router of any state type.
    let router = RequestRouter::empty(0_u8).route::<ping>();
    assert!(router.handles("Ping"));
    assert!(!router.handles("GetJob"));
}
