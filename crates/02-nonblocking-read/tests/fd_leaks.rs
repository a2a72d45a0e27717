//! Every fd the demo's steps open is closed again (one test in this binary on purpose:
//! parallel tests would disturb the count).

use common::Narrator;
use std::time::Duration;

#[test]
fn all_three_parts_leave_no_fd_open() {
    let n = Narrator::quiet();
    let before = common::fd::open_fds().unwrap();
    let file = nonblocking_read::regular_file(&n, 64 * 1024).unwrap();
    assert_eq!((file.eagain, file.bytes), (0, 64 * 1024));
    let pipe = nonblocking_read::pipe_polling(&n, Duration::from_millis(30)).unwrap();
    assert!(pipe.eagain > 0);
    assert_eq!(nonblocking_read::nonblocking_accept(&n).unwrap(), Some(nix::errno::Errno::EAGAIN));
    assert_eq!(common::fd::open_fds().unwrap(), before);
}
