use ncl::NclPayload;

#[derive(NclPayload)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
