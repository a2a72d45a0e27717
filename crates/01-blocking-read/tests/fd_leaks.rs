//! Every fd the demo's steps open is closed again. One test in this file on purpose:
//! tests in one binary run on parallel threads, which would disturb the count.

use common::Narrator;
use std::time::Duration;

#[test]
fn file_pipe_and_socket_reads_leave_no_fd_open() {
    let n = Narrator::quiet();
    let before = common::fd::open_fds().unwrap();

    let file = offline::TempFile::with_contents("leak.txt", b"abc").unwrap();
    assert_eq!(blocking_read::read_file(&n, file.path(), "test").unwrap(), 3);
    {
        let (r, w) = common::fd::pipe().unwrap();
        let got = blocking_read::read_after_delay(
            &n,
            "pipe",
            &r,
            std::fs::File::from(w),
            Duration::from_millis(20),
            b"xy",
        )
        .unwrap();
        assert_eq!(got.bytes, 2);
        let (a, b) = common::fd::socketpair().unwrap();
        let got =
            blocking_read::read_after_delay(&n, "socket", &a, b, Duration::from_millis(20), b"xyz").unwrap();
        assert_eq!(got.bytes, 3);
    }
    assert!(blocking_read::read_file(&n, std::path::Path::new("/nonexistent"), "test").is_err());
    drop(file);
    assert_eq!(common::fd::open_fds().unwrap(), before);
}
