//! Account use cases that more than one caller needs (the HTTP handlers and
//! the `aswan user` command): between the edges and the store. The edges
//! parse and shape answers; the rules and the links live here.

mod links;

pub use links::{reset_link, verification_link, RESET_FOR, VERIFY_FOR};
