//! The client against the emulator, end to end: one test binary.

mod assignments;
mod concurrency;
mod exchange;
mod faults;
mod identities;
mod readme;
mod tls;
mod versions;
