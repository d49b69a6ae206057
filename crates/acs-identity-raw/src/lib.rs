#![doc = include_str!("../README.md")]

#[rustfmt::skip]
mod generated;
pub mod hooks;

pub use generated::*;
pub use hooks::{BoxFuture, Inner, Transport};
pub use progenitor_client::{Error, ResponseValue};
