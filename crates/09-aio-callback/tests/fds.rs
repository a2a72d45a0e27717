//! The callbacks leave no fd open (its own process: no other test opens fds meanwhile).

#![allow(clippy::unwrap_used)] // tests may unwrap: a failure here is a test failure

use aio_callback::Mode;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn open_fds_back_to_baseline() {
    let before = common::fd::open_fds().unwrap();
    {
        let inputs = (0..4).map(|i| common::aio::sample_text(i, 3000 * (i + 1))).collect();
        let dev = offline::slow::SlowDevice::new(inputs, Duration::from_millis(10)).unwrap();
        let n = common::Narrator::with_color(true, false);
        let done = aio_callback::run(&n, Arc::new(dev), Mode::Thread).unwrap();
        assert_eq!(done.len(), 4);
    }
    // Callback threads may still be unwinding their last drop; give them a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while common::fd::open_fds().unwrap() != before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(common::fd::open_fds().unwrap(), before);
}
