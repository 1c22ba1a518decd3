//! Keeps the README's first example and `examples/quickstart.rs` identical, so that the
//! code users copy first is the code that is built and run.

/// Returns the first `rust` code block of `markdown`, without its fences.
fn first_rust_block(markdown: &str) -> &str {
    let start = markdown
        .find("```rust")
        .expect("the README has a rust code block");
    let body = &markdown[start..];
    let body = &body[body.find('\n').expect("fence line ends") + 1..];
    &body[..body.find("```").expect("the code block is closed")]
}

#[test]
fn readme_example_is_quickstart() {
    let readme = include_str!("../../README.md");
    let quickstart = include_str!("../examples/quickstart.rs");
    let code: String = quickstart
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        first_rust_block(readme),
        code,
        "README.md's first example differs from examples/examples/quickstart.rs; \
         copy one into the other"
    );
}
