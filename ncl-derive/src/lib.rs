//! Derive macros for the `ncl` crate.
//!
//! Use them through `ncl`, which re-exports them: `use ncl::NclPayload;`. The generated
//! code names items of `ncl`, so this crate is of no use without it.

mod payload;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `ncl::Payload` for a struct or enum, giving it a wire name, and registers the
/// type so that `ncl::PayloadRegistry::from_inventory` finds it.
///
/// The type must also implement `serde::Serialize` and `serde::Deserialize`, usually by
/// deriving them, and must be `Send + Sync + 'static`.
///
/// # Expansion
///
/// Inside an anonymous `const _: () = { ... };` block, the derive writes:
///
/// - an `impl ncl::Payload` whose `NAME` is the wire name: the type's identifier (without
///   any `r#` prefix), or the `name` given in `#[ncl(...)]`;
/// - for a type without generic parameters, an `inventory::submit!` of the type's
///   registration, which records its wire name, its path (`module_path!()` and the
///   identifier) and a JSON decoder. Every registry built with
///   `PayloadRegistry::from_inventory` then contains the type.
///
/// The code names only `::core` and the `ncl` crate path, so it adds nothing to the
/// caller's namespace.
///
/// # Attributes
///
/// Keys go in `#[ncl(...)]` on the type. They may be split over several `#[ncl]`
/// attributes, but each key may be given once.
///
/// - `name = "..."`: the wire name, written to the `Type` metadata key of each message.
///   Defaults to the type's identifier. It must not be empty or whitespace only, and it
///   must match the name that the other side registered for the type.
/// - `crate = "..."`: the path to the `ncl` crate, for crates that reach `ncl` through a
///   re-export, such as `crate = "my_reexports::ncl"`. The path is resolved where the type
///   is defined. Defaults to `::ncl`.
///
/// # Generic types
///
/// A generic type needs an explicit `name`, because all its instantiations share one wire
/// name and the attribute makes that choice visible. It gets the `Payload` impl for each instantiation that is `Serialize + DeserializeOwned + Send +
/// Sync + 'static`, but is not registered at link time, because the derive cannot know
/// which instantiations the program uses. Register each one at run time with
/// `PayloadRegistry::register_payload::<Page<Job>>()`. Lifetime parameters are rejected,
/// because a payload must own its data.
///
/// # Errors
///
/// Mistakes are compile errors that point at the offending token. The derive rejects an
/// unknown key, a key given twice, a value that is not a string literal, an empty name, and
/// a `crate` value that is not a path. It also rejects a generic type without `name`, a
/// lifetime parameter, `#[ncl]` on a field or variant, and a union.
///
/// # Examples
///
/// ```
/// use ncl::{NclPayload, Payload};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// struct JobAssigned {
///     job_id: String,
/// }
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// #[ncl(name = "NodeState/v2")]
/// enum NodeState {
///     Healthy,
///     Draining { until: u64 },
/// }
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// #[ncl(name = "Page")]
/// struct Page<T> {
///     items: Vec<T>,
/// }
///
/// assert_eq!(JobAssigned::NAME, "JobAssigned");
/// assert_eq!(NodeState::NAME, "NodeState/v2");
/// assert_eq!(Page::<JobAssigned>::NAME, "Page");
/// ```
///
/// A misspelt key is a compile error that lists the valid keys:
///
/// ```compile_fail
/// use ncl::NclPayload;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NclPayload)]
/// #[ncl(rename = "Job")] // error: unknown #[ncl] key `rename`; valid keys are `name`, `crate`
/// struct JobAssigned {
///     job_id: String,
/// }
/// ```
#[proc_macro_derive(NclPayload, attributes(ncl))]
pub fn derive_ncl_payload(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    payload::derive(&input).into()
}
