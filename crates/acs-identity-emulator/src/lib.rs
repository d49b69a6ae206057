//! A local emulator of the Azure Communication Services Identity API.
//!
//! Not implemented yet: this crate is a workspace member so the layout is in
//! place for the emulator work.
