//! Small programs to copy from; see `minimal.rs` and `chat.rs`. This library only compiles the
//! workspace README's example as a doc test.

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
