//! A future that narrates its own polls: what `.await` does, made visible.
//!
//! An `.await` on a socket read is a loop the runtime runs for us. The task's future is
//! polled; the read finds nothing (EAGAIN underneath), registers the task's *waker*
//! with the reactor and returns `Pending`; the task sleeps. Later the reactor's
//! `epoll_wait` reports the socket readable and calls that waker; the runtime polls the
//! task again, and this time the read returns `Ready`. [`Traced`] wraps one such future
//! and hands it a waker of its own that notes the wake-up before passing it on, so each
//! poll can be told: how many times, woken by *this* future's source or not, and the
//! result. (A task is one future: when a sibling in the same task is woken, this one is
//! polled too, without a wake-up of its own.)

use common::chat::json;
use common::Narrator;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// The waker handed to the wrapped future: notes the wake-up, then wakes the task.
struct Noting {
    task: Waker,
    woken: AtomicBool,
}

impl Wake for Noting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.task.wake_by_ref();
    }
}

/// A future, and what to call it in the narration.
pub struct Traced<'a, F: Future> {
    n: &'a Narrator,
    task: &'a str,
    what: String,
    /// Whose readiness wakes it, in words ("fd 9 readable").
    source: &'a str,
    future: Pin<&'a mut F>,
    polls: u32,
    noting: Option<Arc<Noting>>,
}

impl<'a, F: Future> Traced<'a, F> {
    /// Wraps `future` (already pinned by the caller).
    pub fn new(
        n: &'a Narrator,
        task: &'a str,
        what: String,
        source: &'a str,
        future: Pin<&'a mut F>,
    ) -> Self {
        Traced { n, task, what, source, future, polls: 0, noting: None }
    }
}

// ANCHOR: traced_poll
impl<F: Future> Future for Traced<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.polls += 1;
        let woken = this.noting.as_ref().is_some_and(|noting| noting.woken.load(Ordering::SeqCst));
        let noting = Arc::new(Noting { task: cx.waker().clone(), woken: AtomicBool::new(false) });
        let waker = Waker::from(Arc::clone(&noting));
        this.noting = Some(noting);
        let result = this.future.as_mut().poll(&mut Context::from_waker(&waker));
        narrate_poll(this.n, this.task, &this.what, this.source, this.polls, woken, result.is_ready());
        result
    }
}
// ANCHOR_END: traced_poll

/// The `task_poll` event: one poll of a traced future.
fn narrate_poll(n: &Narrator, task: &str, what: &str, source: &str, poll: u32, woken: bool, ready: bool) {
    let why = match (poll, woken) {
        (1, _) => "first poll".to_string(),
        (_, true) => format!("woken: {source}"),
        (_, false) => {
            "polled without a wake-up of its own (another future in the task was woken)".to_string()
        }
    };
    let result = if ready { "Ready" } else { "Pending" };
    let after = if ready { "" } else { "; waker registered, task sleeps" };
    n.event(
        "task_poll",
        json!({"task": task, "future": what, "poll": poll, "woken": woken, "result": result}),
        format!("     [{task} task] poll #{poll} of {what}: {why} -> {result}{after}"),
    );
}
