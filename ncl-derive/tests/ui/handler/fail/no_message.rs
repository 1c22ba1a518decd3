struct Node;

#[ncl::handler]
async fn on_tick(node: &Node) {
    let _ = node;
}

fn main() {}
