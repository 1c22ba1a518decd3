use ncl::{AnyMessage, BoxError, MessageHandler};

struct Node;

#[ncl::handler]
impl MessageHandler for Node {
    async fn handle_message(&self, message: &AnyMessage) -> Result<(), BoxError> {
        let _ = message;
        Ok(())
    }
}

fn main() {}
