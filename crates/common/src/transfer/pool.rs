//! The bookkeeping of one multi-handle run: which transfers wait their turn, which are
//! in flight, and what finished.

use super::{easy_handle, report_done, report_started, Body, Options, Outcome, Transfer};
use crate::error::{Error, Result};
use crate::narrate::Narrator;
use curl::easy::Easy2;
use curl::multi::{Easy2Handle, Message, Multi};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// A transfer curl is working on: its handle inside the multi handle.
pub struct InFlight {
    /// Which transfer.
    pub transfer: Transfer,
    /// Its easy handle, inside the multi handle (give it to `Multi::remove2`).
    pub handle: Easy2Handle<Body>,
    /// When it was added.
    pub start: Instant,
    /// How many of `handle.get_ref().sockets` have been narrated.
    sockets_seen: usize,
}

/// The transfers of one multi-handle run: those waiting their turn, those in flight
/// (at most `limit`), and the results so far.
///
/// A demo's loop shows each libcurl call itself and tells the pool what happened:
/// [`Pool::next_easy`] gives the next easy handle there is room for, [`Pool::added`]
/// records it once `curl_multi_add_handle` took it, [`Pool::result_of`] reads a
/// `curl_multi_info_read` message, [`Pool::take`] hands back a finished handle for
/// `curl_multi_remove_handle`, and [`Pool::finished`] records its outcome. A finished
/// transfer frees a slot, so with `--parallel N` the next one starts at once.
pub struct Pool {
    pending: VecDeque<Transfer>,
    running: Vec<InFlight>,
    outcomes: Vec<Outcome>,
    limit: usize,
    options: Options,
    most_in_flight: usize,
    removed_once: bool,
    /// A transfer kept out of `pending` until another thread releases it
    /// ([`Pool::hold_back_last`]).
    held_back: Option<(Transfer, Receiver<()>)>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("pending", &self.pending.len())
            .field("in_flight", &self.running.len())
            .field("done", &self.outcomes.len())
            .field("held_back", &self.held_back.as_ref().map(|(t, _)| t.id))
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
            held_back: None,
        }
    }

    /// Keeps the last transfer back until `release` receives (or its sender is
    /// dropped): work that another thread hands to the loop later. Returns it, or None
    /// when there is nothing pending.
    pub fn hold_back_last(&mut self, release: Receiver<()>) -> Option<Transfer> {
        let transfer = self.pending.pop_back()?;
        self.held_back = Some((transfer.clone(), release));
        Some(transfer)
    }

    /// How many transfers curl is working on now.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// The most transfers that were ever in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight
    }

    /// True when every transfer has finished (a held-back one included).
    pub fn is_done(&self) -> bool {
        self.pending.is_empty() && self.running.is_empty() && self.held_back.is_none()
    }

    /// The results, in the order the transfers finished.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Sets up the easy handle (curl_easy_init, the curl_easy_setopts) of the next
    /// transfer there is room for, if any. A transfer whose handle cannot be set up
    /// fails on its own, narrated, and the next one is tried.
    pub fn next_easy(&mut self, narrator: &Narrator) -> Option<(Transfer, Easy2<Body>)> {
        if let Some((_, release)) = &self.held_back {
            if !matches!(release.try_recv(), Err(TryRecvError::Empty)) {
                let (transfer, _) = self.held_back.take()?;
                self.pending.push_back(transfer);
            }
        }
        while self.running.len() < self.limit {
            let transfer = self.pending.pop_front()?;
            match easy_handle(&transfer, &self.options) {
                Ok(easy) => return Some((transfer, easy)),
                Err(e) => {
                    let outcome = Outcome::not_started(transfer, &e, Instant::now());
                    report_done(narrator, &outcome);
                    self.outcomes.push(outcome);
                }
            }
        }
        None
    }

    /// Records a transfer `curl_multi_add_handle` accepted, and narrates it
    /// (`transfer_started`). Its token (CURLOPT_PRIVATE) is its id: how a CURLMSG_DONE
    /// message names its transfer.
    pub fn added(
        &mut self,
        transfer: Transfer,
        mut handle: Easy2Handle<Body>,
        narrator: &Narrator,
    ) -> Result<()> {
        handle
            .set_token(transfer.id)
            .map_err(|e| Error::msg(format!("set CURLOPT_PRIVATE on #{}", transfer.id), e.to_string()))?;
        report_started(narrator, &transfer, "multi", self.running.len() + 1);
        self.running.push(InFlight { transfer, handle, start: Instant::now(), sockets_seen: 0 });
        self.most_in_flight = self.most_in_flight.max(self.running.len());
        Ok(())
    }

    /// What one `curl_multi_info_read` message says: the transfer it names and curl's
    /// result for it, when it is a CURLMSG_DONE for a transfer in flight.
    pub fn result_of(&self, message: &Message<'_>) -> Option<(usize, std::result::Result<(), curl::Error>)> {
        let id = message.token().ok()?;
        let r = self.running.iter().find(|r| r.transfer.id == id)?;
        message.result_for2(&r.handle).map(|result| (id, result))
    }

    /// Takes a finished transfer out of the in-flight list, for
    /// `curl_multi_remove_handle`.
    pub fn take(&mut self, id: usize) -> Option<InFlight> {
        let at = self.running.iter().position(|r| r.transfer.id == id)?;
        Some(self.running.remove(at))
    }

    /// Records how a transfer ended, after `curl_multi_remove_handle`, and narrates it
    /// (`transfer_done`, `handle_removed`).
    pub fn finished(&mut self, outcome: Outcome, narrator: &Narrator) {
        report_done(narrator, &outcome);
        narrator.data("handle_removed", json!({"id": outcome.transfer.id, "in_flight": self.running.len()}));
        if !self.removed_once {
            self.removed_once = true;
            narrator.explain(
                "a finished handle is taken out of the multi handle and freed at once \
                 (curl_multi_remove_handle, curl_easy_cleanup)",
            );
        }
        self.outcomes.push(outcome);
    }

    /// How long a run of these transfers may take at worst: every batch of `limit`
    /// running into its timeout, plus some slack. The demos' wait loops stop there.
    pub fn deadline(&self, from: Instant) -> Instant {
        let total = self.pending.len() + self.running.len() + usize::from(self.held_back.is_some());
        let batches = total.div_ceil(self.limit).max(1) as u32;
        from + self.options.timeout * batches + Duration::from_secs(5)
    }

    /// Adds handles until `limit` are in flight, all at once (`next_easy`, then
    /// curl_multi_add_handle, then `added`). Returns how many it added. For loops
    /// that do not show the steps (the benchmarks).
    pub fn fill(&mut self, multi: &Multi, narrator: &Narrator) -> Result<usize> {
        let mut added = 0;
        while let Some((transfer, easy)) = self.next_easy(narrator) {
            let handle = multi
                .add2(easy)
                .map_err(|e| Error::msg(format!("curl_multi_add_handle #{}", transfer.id), e.to_string()))?;
            self.added(transfer, handle, narrator)?;
            added += 1;
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

    /// Reads every waiting message (curl_multi_info_read until it returns NULL), then
    /// removes and cleans up each finished handle (`result_of`, `take`,
    /// curl_multi_remove_handle, `finished`). Returns how many finished. For loops
    /// that do not show the steps (the benchmarks).
    pub fn drain(&mut self, multi: &Multi, narrator: &Narrator) -> Result<usize> {
        let mut done = Vec::new();
        multi.messages(|message| done.extend(self.result_of(&message)));
        let count = done.len();
        for (id, result) in done {
            let Some(r) = self.take(id) else { continue };
            let easy = multi
                .remove2(r.handle)
                .map_err(|e| Error::msg(format!("curl_multi_remove_handle #{id}"), e.to_string()))?;
            self.finished(Outcome::new(r.transfer, &easy, result, r.start, Instant::now()), narrator);
        }
        Ok(count)
    }

    /// Gives up on what is left, saying why (`gave_up`): `deadline` when the run's
    /// deadline passed, `stuck` when curl reports fewer transfers running than are in
    /// flight yet has no message for them. curl's per-transfer timeouts end every
    /// transfer long before the deadline; this is so that no bug, in curl or here, can
    /// make a demo hang or spin.
    pub fn give_up(&mut self, multi: &Multi, reason: &str, narrator: &Narrator) {
        narrator.event(
            "gave_up",
            json!({"reason": reason, "in_flight": self.in_flight()}),
            if reason == "stuck" {
                "curl reports fewer transfers running, yet has no result for them: giving up on them"
            } else {
                "the run's deadline passed: giving up on what is left"
            },
        );
        self.abandon(multi, narrator);
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
        let held = self.held_back.take().map(|(transfer, _)| transfer);
        for transfer in std::mem::take(&mut self.pending).into_iter().chain(held) {
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
        let mut pool = Pool::new(transfers, 2, Options { timeout: Duration::from_secs(30), max_speed: None });
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
