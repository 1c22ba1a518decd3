//! Compile-time tests of `#[derive(NclPayload)]`: each file in `ui/pass` must compile and
//! run, and each file in `ui/fail` must fail with the error in its `.stderr` file.
//!
//! After changing a message, regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p ncl-derive --test ui` and read each one to check
//! that the error points at the offending token.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
