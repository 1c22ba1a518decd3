//! Compile-time tests of `#[ncl::handler]`: each file in `ui/handler/pass` must compile
//! and run, and each file in `ui/handler/fail` must fail with the error in its `.stderr`
//! file.
//!
//! After changing a message, regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p ncl-derive --test handler_ui` and read each one to
//! check that the error points at the offending code.

#[test]
fn handler_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/handler/pass/*.rs");
    cases.compile_fail("tests/ui/handler/fail/*.rs");
}
