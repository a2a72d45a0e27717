//! The runs leave no fd open (its own process: no other test opens fds meanwhile).

#![allow(clippy::unwrap_used)] // tests may unwrap: a failure here is a test failure

use aio_poll_loop::{Options, WaitStyle};
use std::time::Duration;

#[test]
fn open_fds_back_to_baseline() {
    let before = common::fd::open_fds().unwrap();
    {
        let inputs = (0..3).map(|i| common::aio::sample_text(i, 5000)).collect();
        let source = offline::slow::SlowDevice::new(inputs, Duration::from_millis(10)).unwrap();
        let n = common::Narrator::with_color(true, false);
        for wait in [WaitStyle::Poll, WaitStyle::Suspend] {
            let o = Options {
                wait,
                process_extra: Duration::from_millis(5),
                poll_sleep: Duration::from_millis(1),
                suspend_timeout: Duration::from_millis(100),
            };
            let r = aio_poll_loop::run_overlapped(&n, &source, &o).unwrap();
            assert_eq!(r.steps.len(), 3);
            aio_poll_loop::run_sequential(&n, &source, &o).unwrap();
            let (summaries, _) = aio_poll_loop::run_list(&n, &source, &o).unwrap();
            assert_eq!(summaries.len(), 6);
        }
    }
    assert_eq!(common::fd::open_fds().unwrap(), before);
}
