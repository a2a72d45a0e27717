//! Signal handling for the pselect demo: installing handlers, blocking and unblocking.
