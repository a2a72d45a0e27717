//! The bookkeeping of one multi-handle run: which transfers wait their turn, which are
//! in flight, and what finished.

use super::{easy_handle, report_done, report_started, Body, Options, Outcome, Transfer};
use crate::error::{Error, Result};
use crate::narrate::Narrator;
use curl::multi::{Easy2Handle, Multi};
use serde_json::json;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A transfer curl is working on: its handle inside the multi handle.
struct Running {
    transfer: Transfer,
    handle: Easy2Handle<Body>,
    start: Instant,
    /// How many of `handle.get_ref().sockets` have been narrated.
    sockets_seen: usize,
}

/// The transfers of one multi-handle run: those waiting their turn, those in flight
/// (at most `limit`), and the results so far.
///
/// The demo's loop calls [`Pool::fill`] to add handles, `curl_multi_perform` and its
/// own wait, then [`Pool::drain`] to collect what finished, which frees slots for
/// `fill` to add the next transfers as soon as one finishes (`--parallel N`).
pub struct Pool {
    pending: VecDeque<Transfer>,
    running: Vec<Running>,
    outcomes: Vec<Outcome>,
    limit: usize,
    options: Options,
    most_in_flight: usize,
    removed_once: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("pending", &self.pending.len())
            .field("in_flight", &self.running.len())
            .field("done", &self.outcomes.len())
            .finish()
    }
}

impl Pool {
    /// `limit` is the most transfers in flight at once (`--parallel N`; at least 1).
    pub fn new(transfers: Vec<Transfer>, limit: usize, options: Options) -> Pool {
        Pool {
            pending: transfers.into(),
            running: Vec::new(),
            outcomes: Vec::new(),
            limit: limit.max(1),
            options,
            most_in_flight: 0,
            removed_once: false,
        }
    }

    /// How many transfers curl is working on now.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// The most transfers that were ever in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight
    }

    /// True when every transfer has finished.
    pub fn is_done(&self) -> bool {
        self.pending.is_empty() && self.running.is_empty()
    }

    /// The results, in the order the transfers finished.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// How long a run of these transfers may take at worst: every batch of `limit`
    /// running into its timeout, plus some slack. The demos' wait loops stop there.
    pub fn deadline(&self, from: Instant) -> Instant {
        let total = self.pending.len() + self.running.len();
        let batches = total.div_ceil(self.limit).max(1) as u32;
        from + self.options.timeout * batches + Duration::from_secs(5)
    }

    /// Adds pending transfers to the multi handle until `limit` are in flight
    /// (curl_easy_init, the setopts, curl_multi_add_handle). Returns how many it added.
    /// A transfer whose handle cannot be set up fails on its own; the rest go on.
    pub fn fill(&mut self, multi: &Multi, narrator: &Narrator) -> Result<usize> {
        let mut added = 0;
        while self.running.len() < self.limit {
            let Some(transfer) = self.pending.pop_front() else { break };
            let easy = match easy_handle(&transfer, &self.options) {
                Ok(easy) => easy,
                Err(e) => {
                    let outcome = Outcome::not_started(transfer, &e, Instant::now());
                    report_done(narrator, &outcome);
                    self.outcomes.push(outcome);
                    continue;
                }
            };
            let start = Instant::now();
            let mut handle = multi
                .add2(easy)
                .map_err(|e| Error::msg(format!("curl_multi_add_handle #{}", transfer.id), e.to_string()))?;
            // The token is CURLOPT_PRIVATE: how a CURLMSG_DONE message names its transfer.
            handle
                .set_token(transfer.id)
                .map_err(|e| Error::msg(format!("set CURLOPT_PRIVATE on #{}", transfer.id), e.to_string()))?;
            self.running.push(Running { transfer, handle, start, sockets_seen: 0 });
            self.most_in_flight = self.most_in_flight.max(self.running.len());
            added += 1;
            if let Some(r) = self.running.last() {
                report_started(narrator, &r.transfer, "multi", self.running.len());
            }
        }
        Ok(added)
    }

    /// Narrates every socket curl opened since the last call (`socket_opened`), so the
    /// fds in the wait lines can be matched to transfers.
    pub fn report_new_sockets(&mut self, narrator: &Narrator) {
        for r in &mut self.running {
            let sockets = &r.handle.get_ref().sockets;
            for &fd in &sockets[r.sockets_seen..] {
                narrator.event(
                    "socket_opened",
                    json!({"id": r.transfer.id, "label": r.transfer.label, "fd": fd}),
                    format!("  curl opened socket fd {fd} for #{} {}", r.transfer.id, r.transfer.label),
                );
            }
            r.sockets_seen = sockets.len();
        }
    }

    /// The newest socket of each transfer in flight: `(fd, label)`.
    pub fn sockets(&self) -> Vec<(i32, String)> {
        self.running
            .iter()
            .filter_map(|r| r.handle.get_ref().sockets.last().map(|&fd| (fd, r.transfer.label.clone())))
            .collect()
    }

    /// The label of the transfer in flight whose newest socket is `fd`.
    pub fn owner_of(&self, fd: i32) -> Option<String> {
        self.sockets().into_iter().find(|(s, _)| *s == fd).map(|(_, label)| label)
    }

    /// Reads every waiting message (curl_multi_info_read until it returns NULL); for
    /// each CURLMSG_DONE: the result, the status and byte count, then
    /// curl_multi_remove_handle and curl_easy_cleanup. Returns how many finished.
    ///
    /// Call it after every curl_multi_perform, including the one that reports 0
    /// running: the last transfers' messages are waiting then, and a loop that stops
    /// at "0 running" without draining loses them.
    pub fn drain(&mut self, multi: &Multi, narrator: &Narrator) -> Result<usize> {
        // Collect first: a message borrows the multi handle, and removing a handle
        // while reading messages is allowed by curl but clearer done afterwards.
        let mut finished: Vec<(usize, std::result::Result<(), curl::Error>)> = Vec::new();
        multi.messages(|message| {
            let Ok(token) = message.token() else { return };
            if let Some(r) = self.running.iter().find(|r| r.transfer.id == token) {
                if let Some(result) = message.result_for2(&r.handle) {
                    finished.push((token, result));
                }
            }
        });
        let end = Instant::now();
        let count = finished.len();
        for (token, result) in finished {
            let Some(at) = self.running.iter().position(|r| r.transfer.id == token) else { continue };
            let r = self.running.remove(at);
            let easy = multi
                .remove2(r.handle)
                .map_err(|e| Error::msg(format!("curl_multi_remove_handle #{token}"), e.to_string()))?;
            let outcome = Outcome::new(r.transfer, &easy, result, r.start, end);
            drop(easy); // curl_easy_cleanup
            report_done(narrator, &outcome);
            narrator.data("handle_removed", json!({"id": token, "in_flight": self.running.len()}));
            if !self.removed_once {
                self.removed_once = true;
                narrator.explain(
                    "a finished handle is taken out of the multi handle and freed at once \
                     (curl_multi_remove_handle, curl_easy_cleanup)",
                );
            }
            self.outcomes.push(outcome);
        }
        Ok(count)
    }

    /// Gives up on everything left (the run's deadline passed): each transfer in
    /// flight is removed and cleaned up and reported as failed, and pending ones are
    /// reported as never started.
    pub fn abandon(&mut self, multi: &Multi, narrator: &Narrator) {
        let now = Instant::now();
        let gave_up = curl::Error::new(42 as _); // CURLE_ABORTED_BY_CALLBACK: we stopped it
        for r in std::mem::take(&mut self.running) {
            let id = r.transfer.id;
            let outcome = match multi.remove2(r.handle) {
                Ok(easy) => Outcome::new(r.transfer, &easy, Err(gave_up.clone()), r.start, now),
                Err(_) => Outcome::not_started(r.transfer, &gave_up, now),
            };
            report_done(narrator, &outcome);
            narrator.data("handle_removed", json!({"id": id, "in_flight": 0}));
            self.outcomes.push(outcome);
        }
        for transfer in std::mem::take(&mut self.pending) {
            let outcome = Outcome::not_started(transfer, &gave_up, now);
            report_done(narrator, &outcome);
            self.outcomes.push(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::plan;

    #[test]
    fn abandoning_removes_every_handle_and_reports_each_transfer() {
        // A listener that accepts (in the kernel's backlog) and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        let transfers = plan(&[url.clone(), url.clone(), url], None);
        let narrator = Narrator::with_color(true, false);
        let multi = Multi::new();
        let mut pool = Pool::new(transfers, 2, Options { timeout: Duration::from_secs(30) });
        assert_eq!(pool.fill(&multi, &narrator).unwrap(), 2);
        assert_eq!(multi.perform().unwrap(), 2);
        multi.wait(&mut [], Duration::from_millis(50)).unwrap();
        assert_eq!(pool.drain(&multi, &narrator).unwrap(), 0);
        pool.abandon(&multi, &narrator);
        assert!(pool.is_done());
        assert_eq!(pool.outcomes().len(), 3);
        assert!(pool.outcomes().iter().all(|o| o.failure.as_ref().map(|f| f.code) == Some(42)));
        assert_eq!(multi.perform().unwrap(), 0, "nothing left in the multi handle");
    }
}
