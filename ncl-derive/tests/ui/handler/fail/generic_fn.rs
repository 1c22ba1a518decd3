use ncl::{Message, Payload};

#[ncl::handler]
async fn on_any<T: Payload>(message: &Message<T>) {
    let _ = message;
}

fn main() {}
