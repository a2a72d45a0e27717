//! Every `unsafe` block in the workspace lives under this module, each with a
//! `// SAFETY:` comment saying why it is sound. Demos call the safe functions here.
//!
//! * [`file`]: `preadv2(RWF_NOWAIT)`, the one way a regular-file read says EAGAIN.
#![allow(unsafe_code)]

pub mod aio;
pub mod curl;
pub mod file;
pub mod signal;
