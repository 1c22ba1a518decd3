//! The payload and handler models shared by ncl's macros and build scripts.
//!
//! A payload type is a Rust struct or enum that derives `ncl::NclPayload`. Its wire name
//! (the value of the `Type` metadata key in every envelope) is the type's identifier, or
//! the string given with `#[ncl(name = "...")]`. This crate reads those attributes with
//! [`syn`] and checks them, so that `#[derive(NclPayload)]` and any tool that scans source
//! files agree on every wire name and reject the same mistakes with the same messages.
//!
//! - [`attr`] parses `#[ncl(...)]` attributes into [`PayloadAttrs`].
//! - [`model`] combines those attributes with the type's identifier and generics into a
//!   checked [`PayloadModel`], whose [`wire_name`](PayloadModel::wire_name) is the name
//!   that goes on the wire.
//! - [`handler`] parses `#[ncl::handler]` arguments into [`HandlerArgs`] and checks the
//!   function or impl block under it into a [`HandlerModel`].
//!
//! Every function returns a [`syn::Error`] spanned on the offending token, with all the
//! problems found in one pass combined into it, so a macro can emit them all at once with
//! [`syn::Error::to_compile_error`].
//!
//! # Examples
//!
//! ```
//! use ncl_schema::PayloadModel;
//!
//! let input: syn::DeriveInput = syn::parse_quote! {
//!     #[ncl(name = "Heartbeat/v2")]
//!     struct Heartbeat {
//!         node_id: String,
//!     }
//! };
//! let model = PayloadModel::from_derive_input(&input)?;
//! assert_eq!(model.wire_name(), "Heartbeat/v2");
//! # Ok::<(), syn::Error>(())
//! ```

pub mod attr;
mod errors;
pub mod handler;
pub mod model;

pub use attr::PayloadAttrs;
pub use handler::{
    HandlerArgs, HandlerFn, HandlerImpl, HandlerMethod, HandlerModel, MessageParam, StateParam,
};
pub use model::{PayloadKind, PayloadModel};
