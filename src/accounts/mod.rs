//! Account use cases that more than one caller needs (the HTTP handlers and
//! the `aswan user` command): between the edges and the store. The edges
//! parse and shape answers; the rules and the links live here.

mod invitations;
mod links;

pub use invitations::{accept_invitation, address_is_proven, NotAccepted};
pub use links::{reset_link, verification_link, RESET_FOR, VERIFY_FOR};
