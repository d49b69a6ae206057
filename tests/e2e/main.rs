//! The client against the emulator, end to end: one test binary.

mod assignments;
mod exchange;
mod identities;
