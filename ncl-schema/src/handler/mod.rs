//! The model of an item under `#[ncl::handler]`: a free `async fn` or an inherent impl
//! block whose `async` methods take a message.
//!
//! - [`HandlerArgs`] parses the attribute's arguments (`crate = "..."`).
//! - [`HandlerFn`] checks a free function: one `Message<T>` or `&Message<T>` parameter and
//!   optionally one `&S` state parameter, in either order.
//! - [`HandlerImpl`] checks an impl block: each method that takes a `Message<T>` or
//!   `&Message<T>` must be an `async fn` that takes `&self` and nothing else, and no two
//!   methods of one kind may take the same payload type.
//!
//! A function or method whose return type is written `Result<R, E>` with an `R` other
//! than `()` is a request handler, which responds to requests with an `R`. The others
//! handle messages. The model records `R` as `response`.
//!
//! These checks read only the syntax. Whether `T` is a payload, whether an owned `T` is
//! `Clone` and whether the return type is supported are left to the compiler, through
//! checks that the macro generates.

mod args;
mod function;
mod methods;
mod signature;

use syn::Item;

pub use args::{HANDLER_KEYS, HandlerArgs};
pub use function::HandlerFn;
pub use methods::{HandlerImpl, HandlerMethod};
pub(crate) use signature::type_text;
pub use signature::{MessageParam, StateParam};

/// An item under `#[ncl::handler]` whose signature has been checked.
///
/// Both variants are boxed because their models hold several `syn::Type`s, hundreds of
/// bytes each.
#[derive(Debug, Clone)]
pub enum HandlerModel {
    /// A free `async fn`.
    Fn(Box<HandlerFn>),
    /// An inherent impl block with handler methods.
    Impl(Box<HandlerImpl>),
}

impl HandlerModel {
    /// Builds the model of `item`, which must be a function or an impl block.
    ///
    /// # Errors
    ///
    /// Returns the errors of [`HandlerFn::from_item_fn`] or
    /// [`HandlerImpl::from_item_impl`], or an error spanned on any other kind of item.
    ///
    /// # Examples
    ///
    /// ```
    /// use ncl_schema::HandlerModel;
    ///
    /// let item: syn::Item = syn::parse_quote! {
    ///     async fn on_job(message: &Message<JobAssigned>, node: &Node) {}
    /// };
    /// let HandlerModel::Fn(handler) = HandlerModel::from_item(&item)? else {
    ///     unreachable!("a function gives a function model");
    /// };
    /// assert_eq!(handler.rust_name(), "on_job");
    /// assert!(handler.message.by_ref);
    /// assert!(handler.state.is_some());
    /// # Ok::<(), syn::Error>(())
    /// ```
    pub fn from_item(item: &Item) -> syn::Result<Self> {
        match item {
            Item::Fn(item) => {
                HandlerFn::from_item_fn(item).map(|handler| Self::Fn(Box::new(handler)))
            }
            Item::Impl(item) => {
                HandlerImpl::from_item_impl(item).map(|handler| Self::Impl(Box::new(handler)))
            }
            other => Err(syn::Error::new_spanned(
                other,
                "#[ncl::handler] goes on an `async fn` or on an inherent impl block",
            )),
        }
    }
}
