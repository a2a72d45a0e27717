//! Raw select() on libc::fd_set, for curl_multi_fdset.
