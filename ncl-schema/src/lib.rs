#![doc = include_str!("../README.md")]
#![allow(
    clippy::needless_doctest_main,
    reason = "the README's example is a whole build.rs, whose `main` is part of what it shows"
)]

pub mod attr;
mod builder;
pub mod catalog;
mod errors;
pub mod handler;
pub mod model;
pub mod render;
mod scan;

pub use attr::PayloadAttrs;
pub use builder::{Builder, GenerateError, Generated, SourceError};
pub use catalog::Catalog;
pub use handler::{
    HandlerArgs, HandlerFn, HandlerImpl, HandlerMethod, HandlerModel, MessageParam, StateParam,
};
pub use model::{PayloadKind, PayloadModel};
