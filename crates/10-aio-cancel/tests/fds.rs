//! The demo leaves no fd open (its own process: no other test opens fds meanwhile).

#![allow(clippy::unwrap_used)] // tests may unwrap: a failure here is a test failure

#[test]
fn open_fds_back_to_baseline() {
    let before = common::fd::open_fds().unwrap();
    let n = common::Narrator::with_color(true, false);
    let report = aio_cancel::run(&n).unwrap();
    assert!(aio_cancel::surprises(&report).is_empty(), "{:?}", report.rows);
    assert_eq!(report.returns.len(), 6);
    assert_eq!(common::fd::open_fds().unwrap(), before);
}
