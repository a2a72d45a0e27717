//! Tests only: the files in `tests/` run every demo binary against the mistakes students
//! make and the conditions lab machines create (bad paths and flags, refused and busy
//! ports, too few fds, signals, a closed stdout, hostile chat clients, load), and check
//! under strace that each demo makes the system calls of its technique.
//!
//! The helpers they share live in `fixtures`, beside the ones the demos' own tests use.
