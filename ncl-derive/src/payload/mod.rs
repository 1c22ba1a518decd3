//! `#[derive(NclPayload)]`: the model comes from `ncl_schema`, is checked further in
//! [`valid`], and is turned into code in [`expand`].

mod expand;
mod valid;

use ncl_schema::PayloadModel;
use proc_macro2::TokenStream;
use syn::DeriveInput;

/// Expands `#[derive(NclPayload)]` on `input`, or into `compile_error!`s for every problem
/// found.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    match check(input) {
        Ok(model) => expand::expand(&model),
        Err(error) => error.to_compile_error(),
    }
}

/// Builds the model of `input` and runs the checks that only the derive needs.
fn check(input: &DeriveInput) -> syn::Result<PayloadModel> {
    let model = PayloadModel::from_derive_input(input);
    let lifetimes = valid::reject_lifetimes(&input.generics);
    match (model, lifetimes) {
        (Ok(model), Ok(())) => Ok(model),
        (Err(mut error), Err(lifetime_error)) => {
            error.combine(lifetime_error);
            Err(error)
        }
        (Err(error), Ok(())) | (Ok(_), Err(error)) => Err(error),
    }
}
