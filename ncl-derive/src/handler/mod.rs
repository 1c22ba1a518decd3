//! `#[ncl::handler]`: the arguments and the item are checked by `ncl_schema`, then a free
//! function is expanded in [`function`] and an impl block in [`methods`], and request
//! handlers (which return `Result<R, E>`) in [`request`]. The checks that need types, such
//! as "is `T` a payload", are calls built in [`checks`] for the compiler to run.

mod checks;
mod function;
mod methods;
mod request;

use ncl_schema::{HandlerArgs, HandlerModel};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Item, Path, parse_quote};

/// Expands `#[ncl::handler(args)]` on `item`.
///
/// On success the output is the item, unchanged, followed by the generated code. On
/// failure it is the item followed by a `compile_error!` for every problem found, so that
/// the rest of the crate and IDEs still see the item.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed_item = syn::parse2::<Item>(item.clone());
    let args = HandlerArgs::parse(args);
    let model = match &parsed_item {
        Ok(parsed) => HandlerModel::from_item(parsed),
        Err(error) => Err(error.clone()),
    };

    match (args, model) {
        (Ok(args), Ok(model)) => {
            let krate = crate_path(&args);
            let generated = match &model {
                HandlerModel::Fn(handler) => function::expand(handler, &krate),
                HandlerModel::Impl(handler) => methods::expand(handler, &krate),
            };
            quote! {
                #item
                #generated
            }
        }
        (args, model) => {
            let mut errors = args.err();
            if let Err(model_error) = model {
                match &mut errors {
                    Some(error) => error.combine(model_error),
                    None => errors = Some(model_error),
                }
            }
            let errors = errors.map(|error| error.to_compile_error());
            quote! {
                #item
                #errors
            }
        }
    }
}

/// Returns the path from `crate = "..."`, or `::ncl`.
fn crate_path(args: &HandlerArgs) -> Path {
    match &args.krate {
        Some(path) => path.clone(),
        None => parse_quote!(::ncl),
    }
}
