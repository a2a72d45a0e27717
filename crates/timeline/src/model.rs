//! From events to what the picture shows: lanes, spans on the thread lanes, marks.
//!
//! Any program's events can be drawn. The generic rules come first: an event names the
//! thing it is about through a field (`id`, `req`, `input`, `fd`, `nick`, `url`,
//! `source`...), and that thing gets a lane; an event with `tid` belongs to that thread;
//! a field such as `waited_ms` or `blocked_ms` means the thread slept that long before
//! the event. What this crate knows about particular demos (a `wait` event opens a call
//! that the next event on the thread closes, `ready` lists the fds that woke it,
//! `pipe` names two fds of one thing) is layered on top, in the tables below. An event
//! no rule knows is still drawn, as a plain mark.

use std::collections::HashMap;

use serde_json::Value;

use crate::events::Event;

/// Whose lane: a thread that calls and waits, or a thing the program works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneKind {
    Thread,
    Thing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub kind: LaneKind,
    /// What the thing is ("ann", "/delay/600", "input 2"); may change (a `/nick`).
    pub name: String,
    /// How the program knows it ("fd 7", "#3", "tid 1234"); empty if the name says it.
    pub handle: String,
    pub first: f64,
    pub last: f64,
    /// The `source` field of its events, if any (a read demo's "pipe" or "file").
    source: Option<String>,
    /// A close or leave was seen: the fd number may be reused by a new thing.
    closed: bool,
}

impl Lane {
    /// The lane's label, as drawn.
    pub fn label(&self) -> String {
        match (self.name.is_empty(), self.handle.is_empty()) {
            (false, false) => format!("{} ({})", self.name, self.handle),
            (false, true) => self.name.clone(),
            (true, _) => self.handle.clone(),
        }
    }
}

/// What a thread was doing during a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpanKind {
    /// Blocked in a call: the kernel has the thread asleep.
    Asleep,
    /// Awake and checking again and again (an aio_error loop, EAGAIN reads).
    Polling,
    /// Computing.
    Working,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub lane: usize,
    pub start: f64,
    pub end: f64,
    pub kind: SpanKind,
    /// The call, as the student knows it ("select", "curl_multi_wait", "read").
    pub call: String,
    /// How it ended ("2 ready", "timed out", "EINTR", "16384 B"), or empty.
    pub result: String,
}

/// The kinds of mark; each has its own shape and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MarkKind {
    Ready,
    Start,
    DataIn,
    DataOut,
    Done,
    Failed,
    Closed,
    Signal,
    Step,
    Other,
}

impl MarkKind {
    pub const ALL: [MarkKind; 10] = [
        MarkKind::Ready,
        MarkKind::Start,
        MarkKind::DataIn,
        MarkKind::DataOut,
        MarkKind::Done,
        MarkKind::Failed,
        MarkKind::Closed,
        MarkKind::Signal,
        MarkKind::Step,
        MarkKind::Other,
    ];

    /// The legend's words.
    pub fn legend(self) -> &'static str {
        match self {
            MarkKind::Ready => "ready (woke the wait)",
            MarkKind::Start => "open / accept / start",
            MarkKind::DataIn => "read / data in",
            MarkKind::DataOut => "write / data out",
            MarkKind::Done => "completed",
            MarkKind::Failed => "error / EAGAIN / cancel",
            MarkKind::Closed => "closed / left",
            MarkKind::Signal => "signal",
            MarkKind::Step => "check / step",
            MarkKind::Other => "other event",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub lane: usize,
    pub t: f64,
    pub kind: MarkKind,
    /// The event's name.
    pub event: String,
    /// A few words from its fields ("52 B", "EAGAIN", "AIO_CANCELED"), or empty.
    pub note: String,
}

/// Everything the picture shows.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// From the `demo` event, if there was one.
    pub name: Option<String>,
    pub summary: Option<String>,
    /// Thread lanes first (the main thread on top), then things in order of appearance.
    pub lanes: Vec<Lane>,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
    /// Time of the first and last event drawn.
    pub start: f64,
    pub end: f64,
    /// How many events were read (all of them are drawn or summarised).
    pub events: usize,
}

/// More thing lanes than this (a crowd of 2000 clients) share one last lane.
pub const MAX_THING_LANES: usize = 24;

/// Events that say how the run went as a whole, drawn as the title or not at all.
const SUMMARIES: &[&str] = &[
    "demo",
    "timeline",
    "summary",
    "done",
    "speedup",
    "truth_table",
    "scenario_check",
    "client_received",
    "fds",
    "open_fds",
    "stats",
    "main_thread",
    "curl_global_init",
    "server_started",
    "multi_init",
    "multi_cleanup",
    "source",
    "crowd_done",
    "reads_done",
    "cancel_outcomes",
    "threads",
    "device",
    "baseline",
    "et_bug_check",
];

/// Events that bring an fd into being: the number may be an old one reused.
const OPENERS: &[&str] =
    &["open", "opened", "pipe", "socketpair", "listening", "accepted", "socket_opened", "connected"];

/// Events after which an fd number may be reused for something else.
const CLOSERS: &[&str] = &["left", "closed", "close", "hangup"];

/// Fields that name the thing an event is about, strongest first. An fd is weaker than
/// a transfer or request id: one fd can carry many requests, and curl reuses fds.
const THING_FIELDS: &[&str] = &["id", "transfer", "req", "request", "input", "block"];

/// Events after which the main thread had been waiting since its previous event, and
/// for what (knowledge of aio-callback: a channel receive, a `sigwaitinfo`).
const WOKEN_BY: &[(&str, &str)] =
    &[("main_received", "channel recv"), ("signal", "sigwaitinfo"), ("et_wait", "epoll_wait")];

/// Builds the timeline of a run.
pub fn build(events: &[Event]) -> Timeline {
    let mut b = Builder::default();
    for e in events {
        b.event(e);
    }
    b.finish(events)
}

#[derive(Default)]
struct Builder {
    name: Option<String>,
    summary: Option<String>,
    lanes: Vec<Lane>,
    keys: HashMap<String, usize>,
    fds: HashMap<i64, usize>,
    main_tid: Option<i64>,
    /// When each thread lane last did something (the start of an implied wait).
    thread_last: HashMap<usize, f64>,
    /// A wait call that has started and not yet returned, per thread lane.
    pending: HashMap<usize, (f64, String)>,
    spans: Vec<Span>,
    marks: Vec<Mark>,
    thing_lanes: usize,
    /// curl-socket's timerfd (from `multi_init`): curl's timer gets a lane of its own.
    timer_fd: Option<i64>,
}

impl Builder {
    fn event(&mut self, e: &Event) {
        match e.name.as_str() {
            "demo" => {
                self.name = e.text("name");
                self.summary = e.text("summary");
                return;
            }
            "main_thread" => self.main_tid = e.int("tid"),
            "multi_init" => self.timer_fd = e.int("timer_fd"),
            // io-uring: the user_data tags of part 1 are reused by the cancel part.
            "reads_done" => self.keys.retain(|k, _| !k.starts_with("ud:")),
            _ => {}
        }
        // io-uring's per-file report comes after all the reads: its `done_ms` says when.
        if SUMMARIES.contains(&e.name.as_str()) || (e.name == "file_done" && e.fields.contains_key("done_ms"))
        {
            return;
        }
        let thread = self.thread_lane(e);
        let t = e.t_ms;
        self.touch(thread, t);

        // A call that started earlier ends with this event on the same thread. (tokio-chat:
        // the main task's wait is not ended by what the client tasks do meanwhile.)
        let client_task = self.pending.get(&thread).is_some_and(|(_, call)| call == "select!")
            && (e.fields.contains_key("task") || (e.fields.contains_key("nick") && e.name != "accepted"));
        if let Some((start, call)) = if client_task { None } else { self.pending.remove(&thread) } {
            let result = wait_result(e);
            self.span(thread, start, t, SpanKind::Asleep, &call, &result);
            if matches!(e.name.as_str(), "ready" | "still_waiting" | "race_result") {
                self.ready_marks(e);
                self.thread_last.insert(thread, t);
                return;
            }
        }
        let consumed = self.thread_spans(e, thread);
        self.thread_last.insert(thread, t);

        let things = self.thing_lanes(e);
        let kind = classify(e);
        let note = note(e, kind);
        for &lane in &things {
            self.mark(lane, t, kind, e, &note);
        }
        let own_thread = e.int("tid").is_some_and(|tid| Some(tid) != self.main_tid);
        if (things.is_empty() && !consumed) || own_thread {
            self.mark(thread, t, kind, e, &note);
        }
        if CLOSERS.contains(&e.name.as_str()) {
            for &lane in &things {
                self.lanes[lane].closed = true;
            }
        }
        self.submitted_requests(e);
    }

    /// io-uring: each request an `io_uring_enter` handed over starts a mark on its
    /// input's lane when the call began (before it slept), so the lane's bar runs from
    /// submission to completion: the time the read was in flight.
    fn submitted_requests(&mut self, e: &Event) {
        let Some(Value::Array(requests)) = e.fields.get("requests") else { return };
        let submitted = e.t_ms - e.num("waited_ms").unwrap_or(0.0);
        for request in requests {
            let Some(label) = request.get("label").and_then(Value::as_str) else { continue };
            let lane = self.lane(&format!("label:{label}"), LaneKind::Thing, label, "", submitted);
            let offset = request.get("offset").and_then(Value::as_u64);
            let note = offset.map(|o| format!("submit @{o}")).unwrap_or_else(|| "submit".into());
            self.mark(lane, submitted, MarkKind::Start, e, &note);
        }
    }

    /// The spans this event tells of on its thread; true when the event is fully told
    /// by them (a wait call with nothing else to say gets no mark of its own).
    fn thread_spans(&mut self, e: &Event, thread: usize) -> bool {
        let t = e.t_ms;
        let name = e.name.as_str();
        if name == "wait" || (name == "transfer_started" && e.text("how").as_deref() == Some("easy")) {
            let call = match name {
                // tokio-chat runs every task on one thread: what waits there is the main
                // task, in its select! over the two accepts, the signals and a timer.
                "wait" if e.text("call").as_deref() == Some("tokio") => {
                    self.lanes[thread].name = "main task".into();
                    "select!".into()
                }
                "wait" => e.text("call").unwrap_or_else(|| "wait".into()),
                _ => "curl_easy_perform".into(),
            };
            self.pending.insert(thread, (t, call));
            return name == "wait";
        }
        if name == "ready" || name == "still_waiting" {
            // A wait whose start was not reported: only the result can be shown.
            self.ready_marks(e);
            return true;
        }
        for (field, kind) in [
            ("waited_ms", SpanKind::Asleep),
            ("blocked_ms", SpanKind::Asleep),
            ("slept_ms", SpanKind::Asleep),
        ] {
            if let Some(ms) = e.num(field).filter(|ms| *ms >= 0.0) {
                let call = match name {
                    "multi_wait" => e.text("call").unwrap_or_else(|| "curl_multi_wait".into()),
                    "read_returned" | "blocking_baseline" => "read".to_string(),
                    "reaped" => "io_uring_enter".to_string(),
                    other => e.text("call").unwrap_or_else(|| other.to_string()),
                };
                self.span(thread, t - ms, t, kind, &call, &wait_result(e));
                self.ready_marks(e);
                return !matches!(name, "read_returned" | "reaped");
            }
        }
        // `aio_suspend_timeout`: a call that slept its whole timeout.
        if let (Some(call), Some(ms)) = (name.strip_suffix("_timeout"), e.num("timeout_ms")) {
            self.span(thread, t - ms, t, SpanKind::Asleep, call, "timed out");
            return true;
        }
        let last = self.thread_last.get(&thread).copied();
        match name {
            "read_blocking" => {
                if let Some(ms) = e.num("ms") {
                    self.span(thread, t - ms, t, SpanKind::Asleep, "read", &wait_result(e));
                }
                false
            }
            "process" => {
                if let Some(ms) = e.num("ms") {
                    self.span(thread, t - ms, t, SpanKind::Working, "process", "");
                }
                false
            }
            "polling_summary" => {
                if let Some(ms) = e.num("elapsed_ms") {
                    let result = e.int("eagain_count").map(|n| format!("{n} EAGAIN")).unwrap_or_default();
                    self.span(thread, t - ms, t, SpanKind::Polling, "read loop", &result);
                }
                false
            }
            "wait_done" => {
                if let Some(from) = last {
                    let method = e.text("method").unwrap_or_else(|| "wait".into());
                    let result = match (e.int("polls"), e.int("suspends")) {
                        (Some(p), _) if p > 0 => format!("{p} polls"),
                        (_, Some(s)) if s > 0 => format!("{s} suspends"),
                        _ => String::new(),
                    };
                    let kind = if method == "aio_suspend" { SpanKind::Asleep } else { SpanKind::Polling };
                    self.span(thread, from, t, kind, &method, &result);
                }
                false
            }
            _ => {
                if let (Some(&(_, call)), Some(from)) = (WOKEN_BY.iter().find(|(n, _)| *n == name), last) {
                    self.span(thread, from, t, SpanKind::Asleep, call, "");
                }
                false
            }
        }
    }

    /// Readiness marks on the lanes of the fds an event reports ready.
    fn ready_marks(&mut self, e: &Event) {
        let t = e.t_ms;
        if let Some(Value::Array(fds)) = e.fields.get("fds") {
            for entry in fds {
                let Some(fd) = entry.get("fd").and_then(Value::as_i64) else { continue };
                let owner = entry.get("owner").and_then(Value::as_str).unwrap_or("");
                let flags: Vec<&str> = entry
                    .get("flags")
                    .and_then(Value::as_array)
                    .map(|f| f.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let lane = self.fd_lane(fd, owner.split(',').next().unwrap_or(""), t, false);
                self.mark(lane, t, MarkKind::Ready, e, &short_flags(&flags));
            }
        }
        if let (Some(Value::Array(ready)), true) = (e.fields.get("events"), e.name == "epoll_wait") {
            for entry in ready {
                let flags = entry.get("events").and_then(Value::as_str).unwrap_or("").to_lowercase();
                let lane = match entry.get("fd") {
                    Some(Value::Number(n)) => match n.as_i64() {
                        Some(fd) => self.fd_lane(fd, "", t, false),
                        None => continue,
                    },
                    Some(Value::String(s)) if s == "timer" => self.timer_lane(t),
                    _ => continue,
                };
                self.mark(lane, t, MarkKind::Ready, e, &flags.replace('|', "+"));
            }
        }
        for (field, note) in [("readable", "in"), ("writable", "out")] {
            if let Some(Value::Array(fds)) = e.fields.get(field) {
                for fd in fds.iter().filter_map(Value::as_i64) {
                    let lane = self.fd_lane(fd, "", t, false);
                    self.mark(lane, t, MarkKind::Ready, e, note);
                }
            }
        }
    }

    /// The lanes of the things an event is about (usually one, none for a pure call).
    fn thing_lanes(&mut self, e: &Event) -> Vec<usize> {
        let t = e.t_ms;
        if let Some(lanes) = self.known_thing_lanes(e) {
            return lanes;
        }
        let opener = OPENERS.contains(&e.name.as_str());
        for &field in THING_FIELDS {
            let Some(value) = e.text(field) else { continue };
            if field == "req" && value == "NULL" {
                continue;
            }
            let name = e.text("label").unwrap_or_else(|| match field {
                "input" | "block" => {
                    format!("{field} {}", e.int(field).map_or(value.clone(), |n| (n + 1).to_string()))
                }
                "req" | "request" => format!("request {value}"),
                _ => String::new(),
            });
            let handle = match field {
                "id" | "transfer" => format!("#{value}"),
                _ => String::new(),
            };
            let lane = self.lane(&format!("{field}:{value}"), LaneKind::Thing, &name, &handle, t);
            if opener {
                if let Some(fd) = e.int("fd") {
                    self.fds.insert(fd, lane);
                }
            }
            return vec![lane];
        }
        if let (Some(r), Some(w)) = (e.int("read_fd"), e.int("write_fd")) {
            let lane = self.new_lane(LaneKind::Thing, &e.name, &format!("fd {r} ← fd {w}"), t);
            self.fds.insert(r, lane);
            self.fds.insert(w, lane);
            return vec![lane];
        }
        let named_fds: Vec<(String, i64)> = e
            .fields
            .iter()
            .filter_map(|(k, v)| Some((k.strip_suffix("_fd")?.to_string(), v.as_i64()?)))
            .collect();
        if !named_fds.is_empty() {
            let suffix = if e.name == "listening" { " listener" } else { "" };
            return named_fds
                .into_iter()
                .map(|(what, fd)| self.fd_lane(fd, &format!("{what}{suffix}"), t, true))
                .collect();
        }
        if let Some(fd) = e.int("fd").filter(|fd| *fd >= 0) {
            let name = match e.name.as_str() {
                "listening" => "listener".to_string(),
                "stats_served" => "stats client".to_string(),
                _ => ["nick", "label", "owner", "source"].iter().find_map(|k| e.text(k)).unwrap_or_default(),
            };
            let lane = self.fd_lane_for(fd, &name, t, opener, e.text("source"));
            if e.name == "renamed" {
                if let Some(new) = e.text("new") {
                    self.lanes[lane].name = new;
                }
            }
            return vec![lane];
        }
        for field in ["nick", "client", "url"] {
            if let Some(value) = e.text(field) {
                return vec![self.lane(&format!("{field}:{value}"), LaneKind::Thing, &value, "", t)];
            }
        }
        if let Some(source) = e.text("source") {
            // The newest lane reading from that kind of source; else the newest fd lane
            // that has not said what it reads from (a read demo's `open` event).
            let same = self.lanes.iter().rposition(|l| l.source.as_deref() == Some(&source));
            let unsaid = || {
                self.lanes.iter().rposition(|l| {
                    l.kind == LaneKind::Thing && l.source.is_none() && l.handle.starts_with("fd ")
                })
            };
            let lane = match same.or_else(unsaid) {
                Some(lane) => lane,
                None => self.lane(&format!("source:{source}"), LaneKind::Thing, &source, "", t),
            };
            if self.lanes[lane].source.is_none() {
                self.lanes[lane].source = Some(source.clone());
                if self.lanes[lane].name.is_empty() {
                    self.lanes[lane].name = source;
                }
            }
            return vec![lane];
        }
        Vec::new()
    }

    /// What we know of the demos beyond the notes: curl's timer and the sockets curl
    /// names by transfer (curl-socket), io_uring's tagged requests and its kernel worker,
    /// the futures a tokio task polls, and the two halves of `epoll --show-et-bug`.
    fn known_thing_lanes(&mut self, e: &Event) -> Option<Vec<usize>> {
        let t = e.t_ms;
        let name = e.name.as_str();
        // curl's timer: the timer callback, and socket_action(CURL_SOCKET_TIMEOUT).
        if name == "timer_callback"
            || (name == "socket_action" && e.fields.get("timer") == Some(&Value::Bool(true)))
        {
            return Some(vec![self.timer_lane(t)]);
        }
        // curl asks for a socket before saying which transfer opened it: the transfer's
        // lane (same label) takes the fd.
        if name == "socket_callback" {
            if let (Some(fd), None) = (e.int("fd"), e.text("label")) {
                return Some(vec![self.fd_lane(fd, "curl-internal", t, false)]);
            }
            if let (Some(fd), Some(label)) = (e.int("fd"), e.text("label")) {
                if !self.fds.contains_key(&fd) || self.lanes[self.fds[&fd]].closed {
                    let transfer = self.keys.iter().find_map(|(k, &lane)| {
                        (k.starts_with("id:") && self.lanes[lane].name == label && !self.lanes[lane].closed)
                            .then_some(lane)
                    });
                    if let Some(lane) = transfer {
                        self.fds.insert(fd, lane);
                    }
                }
            }
        }
        // io_uring: a completion names its request by label, a cancel by its tag.
        if name == "completion" {
            let label = e.text("label")?;
            let tag = e.int("user_data").map(|u| format!("ud:{u}"));
            let lane = match tag.as_ref().and_then(|k| self.keys.get(k)) {
                Some(&lane) => {
                    self.lanes[lane].name = label.clone();
                    lane
                }
                None => self.lane(&format!("label:{label}"), LaneKind::Thing, &label, "", t),
            };
            if let Some(tag) = tag.filter(|_| !label.starts_with("input ")) {
                self.keys.insert(tag, lane);
            }
            return Some(vec![lane]);
        }
        if name == "cancel" {
            let target = e.int("target")?;
            let lane = match self.keys.get(&format!("ud:{target}")) {
                Some(&lane) => lane,
                None => {
                    let lane = self.lane(
                        &format!("label:the read {target:#x}"),
                        LaneKind::Thing,
                        &format!("the read {target:#x}"),
                        "",
                        t,
                    );
                    self.keys.insert(format!("ud:{target}"), lane);
                    lane
                }
            };
            return Some(vec![lane]);
        }
        if name == "worker" {
            return Some(vec![self.lane("kernel worker", LaneKind::Thread, "kernel worker", "", t)]);
        }
        // tokio-chat: a poll of "read(fd 14)" or "recv(queue of fd 14)" is about fd 14.
        if name == "task_poll" {
            let future = e.text("future")?;
            let fd = future.rsplit("fd ").next()?.trim_end_matches(')').parse::<i64>().ok()?;
            // A task is polled once more after its client left: still that client's lane.
            return Some(vec![match self.fds.get(&fd) {
                Some(&lane) => lane,
                None => self.fd_lane(fd, "", t, false),
            }]);
        }
        // epoll --show-et-bug: one lane for the bug, one for the fix.
        if name.starts_with("et_") {
            let part = e.text("part")?;
            let label = match part.as_str() {
                "bug" => "bug: 1 read per wake-up",
                "fix" => "fix: read until EAGAIN",
                other => other,
            };
            return Some(vec![self.lane(&format!("part:{part}"), LaneKind::Thing, label, "", t)]);
        }
        None
    }

    /// curl-socket: the lane of curl's timer (a timerfd).
    fn timer_lane(&mut self, t: f64) -> usize {
        let handle = self.timer_fd.map(|fd| format!("timerfd {fd}")).unwrap_or_default();
        self.lane("timer", LaneKind::Thing, "curl's timer", &handle, t)
    }

    fn fd_lane(&mut self, fd: i64, name: &str, t: f64, opener: bool) -> usize {
        self.fd_lane_for(fd, name, t, opener, None)
    }

    /// The lane of an fd: a new one when the fd is opened again, was closed, or now
    /// reads from another kind of source (fd numbers are reused).
    fn fd_lane_for(&mut self, fd: i64, name: &str, t: f64, opener: bool, source: Option<String>) -> usize {
        if let Some(&lane) = self.fds.get(&fd) {
            let l = &self.lanes[lane];
            let other_source = source.is_some() && l.source.is_some() && l.source != source;
            if !(opener || l.closed || other_source) {
                if l.name.is_empty() && !name.is_empty() {
                    self.lanes[lane].name = name.to_string();
                }
                if self.lanes[lane].source.is_none() {
                    self.lanes[lane].source = source;
                }
                return lane;
            }
        }
        let lane = self.new_lane(LaneKind::Thing, name, &format!("fd {fd}"), t);
        self.lanes[lane].source = source;
        self.fds.insert(fd, lane);
        lane
    }

    fn thread_lane(&mut self, e: &Event) -> usize {
        match e.int("tid") {
            Some(tid) if Some(tid) != self.main_tid => {
                self.lane(&format!("tid:{tid}"), LaneKind::Thread, "thread", &format!("tid {tid}"), e.t_ms)
            }
            _ => self.lane("thread:main", LaneKind::Thread, "main thread", "", e.t_ms),
        }
    }

    fn lane(&mut self, key: &str, kind: LaneKind, name: &str, handle: &str, t: f64) -> usize {
        if let Some(&lane) = self.keys.get(key) {
            return lane;
        }
        let lane = self.new_lane(kind, name, handle, t);
        self.keys.insert(key.to_string(), lane);
        lane
    }

    fn new_lane(&mut self, kind: LaneKind, name: &str, handle: &str, t: f64) -> usize {
        if kind == LaneKind::Thing {
            if self.thing_lanes >= MAX_THING_LANES {
                let more = "more:".to_string();
                if let Some(&lane) = self.keys.get(&more) {
                    return lane;
                }
                let lane = self.push_lane(kind, "all the others", "", t);
                self.keys.insert(more, lane);
                return lane;
            }
            self.thing_lanes += 1;
        }
        self.push_lane(kind, name, handle, t)
    }

    fn push_lane(&mut self, kind: LaneKind, name: &str, handle: &str, t: f64) -> usize {
        self.lanes.push(Lane {
            kind,
            name: name.to_string(),
            handle: handle.to_string(),
            first: t,
            last: t,
            source: None,
            closed: false,
        });
        self.lanes.len() - 1
    }

    fn touch(&mut self, lane: usize, t: f64) {
        let l = &mut self.lanes[lane];
        l.first = l.first.min(t);
        l.last = l.last.max(t);
    }

    fn span(&mut self, lane: usize, start: f64, end: f64, kind: SpanKind, call: &str, result: &str) {
        self.touch(lane, start);
        self.touch(lane, end);
        self.spans.push(Span { lane, start, end, kind, call: call.to_string(), result: result.to_string() });
    }

    fn mark(&mut self, lane: usize, t: f64, kind: MarkKind, e: &Event, note: &str) {
        self.touch(lane, t);
        self.marks.push(Mark { lane, t, kind, event: e.name.clone(), note: note.to_string() });
    }

    /// Puts thread lanes on top (the main thread first) and renumbers.
    fn finish(mut self, events: &[Event]) -> Timeline {
        // A wait still open at the end (the program stopped while waiting) ends there.
        let end = events.iter().map(|e| e.t_ms).fold(f64::NEG_INFINITY, f64::max);
        let pending: Vec<(usize, (f64, String))> = self.pending.drain().collect();
        for (lane, (start, call)) in pending {
            self.span(lane, start, end, SpanKind::Asleep, &call, "still waiting");
        }
        // A thread lane with nothing on it (every event was about a thing) is left out.
        let used: Vec<bool> = (0..self.lanes.len())
            .map(|i| {
                self.lanes[i].kind == LaneKind::Thing
                    || self.spans.iter().any(|s| s.lane == i)
                    || self.marks.iter().any(|m| m.lane == i)
            })
            .collect();
        let mut order: Vec<usize> = (0..self.lanes.len()).filter(|&i| used[i]).collect();
        order.sort_by_key(|&i| (self.lanes[i].kind != LaneKind::Thread, i));
        let mut new_index = vec![0; self.lanes.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let lanes = order.iter().map(|&i| self.lanes[i].clone()).collect();
        for s in &mut self.spans {
            s.lane = new_index[s.lane];
        }
        for m in &mut self.marks {
            m.lane = new_index[m.lane];
        }
        let drawn = events.iter().filter(|e| !SUMMARIES.contains(&e.name.as_str()));
        let start = drawn.clone().map(|e| e.t_ms).fold(f64::INFINITY, f64::min);
        let start = self.spans.iter().map(|s| s.start).fold(start, f64::min);
        let end = drawn.map(|e| e.t_ms).fold(f64::NEG_INFINITY, f64::max);
        let (start, end) = if start.is_finite() && end.is_finite() { (start, end) } else { (0.0, 0.0) };
        Timeline {
            name: self.name,
            summary: self.summary,
            lanes,
            spans: self.spans,
            marks: self.marks,
            start,
            end,
            events: events.len(),
        }
    }
}

/// How a wait ended, in a few words.
fn wait_result(e: &Event) -> String {
    if let Some(errno) = errno(e) {
        return errno;
    }
    match e.name.as_str() {
        "ready" => {
            let n = e.int("count").or_else(|| e.int("returned")).unwrap_or(0);
            format!("{n} ready")
        }
        "still_waiting" => "timed out".into(),
        "race_result" => match e.text("result") {
            Some(r) if r.contains("EINTR") => "EINTR".into(),
            Some(r) if r == "returned 0" => "0: timed out".into(),
            Some(r) => r,
            None => String::new(),
        },
        "multi_wait" if e.fields.get("woken") == Some(&Value::Bool(true)) => "woken up".into(),
        "multi_wait" => e.int("numfds").map(|n| format!("{n} fds")).unwrap_or_default(),
        "et_wait" => match e.int("returned") {
            Some(0) => "timed out".into(),
            Some(n) => format!("{n} ready"),
            None => String::new(),
        },
        "io_uring_enter" => e.int("in_flight").map(|n| format!("{n} in flight")).unwrap_or_default(),
        "transfer_done" => e.int("http_status").map(|s| s.to_string()).unwrap_or_default(),
        _ => {
            if let Some(n) = e.int("ready") {
                format!("{n} ready")
            } else if let Some(n) =
                e.int("bytes").or_else(|| e.int("ret")).or_else(|| e.int("res")).filter(|n| *n >= 0)
            {
                format!("{n} B")
            } else {
                String::new()
            }
        }
    }
}

/// The error an event reports, if any: an errno name, a failed status, a curl error.
fn errno(e: &Event) -> Option<String> {
    let nested =
        e.fields.get("result").and_then(|r| r.get("errno")).and_then(Value::as_str).map(str::to_string);
    // io_uring reports an error as a negative errno in `res`.
    let negative = e.int("res").filter(|r| *r < 0).map(|r| format!("-{}", errno_by_number(-r)));
    let eagain = (e.fields.get("eagain") == Some(&Value::Bool(true))).then(|| "EAGAIN".to_string());
    let found = e
        .text("errno")
        .or(nested)
        .or(negative)
        .or(eagain)
        .or_else(|| e.text("status").filter(|s| s.starts_with('E')))
        .or_else(|| e.text("curl_error").map(|c| c.trim_start_matches("CURLE_").to_string()));
    found.filter(|s| !s.is_empty() && s != "0")
}

/// The names of the errnos the demos' io_uring requests end with.
fn errno_by_number(n: i64) -> String {
    let name = match n {
        2 => "ENOENT",
        4 => "EINTR",
        9 => "EBADF",
        11 => "EAGAIN",
        62 => "ETIME",
        114 => "EALREADY",
        125 => "ECANCELED",
        _ => return format!("errno {n}"),
    };
    name.to_string()
}

/// The kind of mark an event makes: known names first, then words in the name.
pub fn classify(e: &Event) -> MarkKind {
    let name = e.name.as_str();
    if name == "aio_cancel"
        || (errno(e).is_some() && name != "aio_error")
        || e.fields.get("ok") == Some(&Value::Bool(false))
    {
        return MarkKind::Failed;
    }
    if name == "et_unread" && e.int("bytes").is_some_and(|n| n > 0) {
        return MarkKind::Failed;
    }
    if name == "task_poll" {
        return if e.text("result").as_deref() == Some("Ready") { MarkKind::Ready } else { MarkKind::Step };
    }
    if name == "race_step" {
        return if e.text("step").as_deref() == Some("raise") { MarkKind::Signal } else { MarkKind::Step };
    }
    let exact: &[(&[&str], MarkKind)] = &[
        (&["ready"], MarkKind::Ready),
        (
            &[
                "accepted",
                "open",
                "pipe",
                "socketpair",
                "listening",
                "socket_opened",
                "transfer_started",
                "aio_read",
                "accept_returned",
                "read_start",
                "set_nonblocking",
                "peer_scheduled",
                "worker_running",
                "epoll_created",
                "io_uring_setup",
                "submit",
                "worker",
            ],
            MarkKind::Start,
        ),
        (
            &[
                "read",
                "read_returned",
                "recv_returned",
                "aio_return",
                "callback",
                "collected",
                "main_received",
                "nowait_read",
                "read_blocking",
                "polling_summary",
                "blocking_baseline",
                "reaped",
                "et_read",
            ],
            MarkKind::DataIn,
        ),
        (&["flushed", "relayed", "pipe_write", "stats_served", "et_send"], MarkKind::DataOut),
        (
            &["transfer_done", "wait_done", "file_done", "completion", "linked_completion", "et_unread"],
            MarkKind::Done,
        ),
        (&["left", "quit", "handle_removed", "partial_dropped"], MarkKind::Closed),
        (&["signal", "wakeup"], MarkKind::Signal),
        (
            &[
                "held_back",
                "aio_error",
                "still_polling",
                "renamed",
                "command",
                "sanitized",
                "signals_blocked",
                "sigmask",
                "multi_perform",
                "multi_fdset",
                "process",
                "file_evicted",
                "interest",
                "socket_callback",
                "socket_action",
                "timer_callback",
            ],
            MarkKind::Step,
        ),
    ];
    if let Some((_, kind)) = exact.iter().find(|(names, _)| names.contains(&name)) {
        return *kind;
    }
    let words: &[(&[&str], MarkKind)] = &[
        (&["signal"], MarkKind::Signal),
        (&["cancel", "error", "fail"], MarkKind::Failed),
        (&["ready", "readable", "writable"], MarkKind::Ready),
        (&["close", "left", "quit", "hangup", "eof"], MarkKind::Closed),
        (&["done", "complete", "finish"], MarkKind::Done),
        (&["accept", "open", "start", "connect", "submit", "listen"], MarkKind::Start),
        (&["read", "recv", "receive"], MarkKind::DataIn),
        (&["write", "send", "sent", "flush", "relay"], MarkKind::DataOut),
    ];
    words
        .iter()
        .find(|(ws, _)| ws.iter().any(|w| name.split('_').any(|part| part == *w || part.starts_with(w))))
        .map_or(MarkKind::Other, |(_, kind)| *kind)
}

/// A few words from an event's fields for its mark.
fn note(e: &Event, kind: MarkKind) -> String {
    if kind == MarkKind::Failed {
        if let Some(name) = e.text("name").filter(|_| e.name == "aio_cancel") {
            return name.trim_start_matches("AIO_").to_string();
        }
        if let Some(errno) = errno(e) {
            return errno;
        }
    }
    match e.name.as_str() {
        "aio_error" => return e.text("value").unwrap_or_default(),
        "renamed" => return format!("→ {}", e.text("new").unwrap_or_default()),
        "race_step" => {
            let step = e.text("step").unwrap_or_default();
            return match e.fields.get("flag").and_then(Value::as_bool) {
                Some(flag) => format!("{step}: flag {flag}"),
                None => step,
            };
        }
        "accepted" => return e.text("nick").unwrap_or_default(),
        "held_back" => return e.num("after_ms").map(|ms| format!("held back {ms} ms")).unwrap_or_default(),
        "wakeup" => return "wakeup".into(),
        "still_polling" => return e.int("eagain_so_far").map(|n| format!("{n} EAGAIN")).unwrap_or_default(),
        "transfer_done" => {
            if let Some(status) = e.int("http_status") {
                return status.to_string();
            }
        }
        "signal" => return e.int("signo").map(|n| format!("signo {n}")).unwrap_or_default(),
        // epoll: what the interest list now holds for the fd.
        "interest" => {
            let op = e.text("op").unwrap_or_default().trim_start_matches("EPOLL_CTL_").to_string();
            let flags: Vec<&str> = match e.fields.get("events") {
                Some(Value::Array(f)) => {
                    f.iter().filter_map(Value::as_str).map(|f| f.trim_start_matches("EPOLL")).collect()
                }
                _ => Vec::new(),
            };
            return match op.as_str() {
                "DEL" => op,
                // The server asks for EPOLLOUT only while it has output queued.
                "MOD" if flags.contains(&"OUT") => "MOD +out".into(),
                "MOD" => "MOD -out".into(),
                _ => format!("{op} {}", flags.join("+").to_lowercase()),
            };
        }
        // curl-socket: what curl asked for, what it was told, when it wants its timer.
        "socket_callback" => {
            let op = e.text("epoll_ctl").unwrap_or_default();
            let want = e.text("want").unwrap_or_default();
            return if want == "remove" { op } else { format!("{op} {want}") };
        }
        "socket_action" => {
            return e
                .text("events")
                .map(|f| f.to_lowercase().replace('|', "+"))
                .unwrap_or_else(|| "timeout".into())
        }
        "timer_callback" => {
            return match e.num("timeout_ms") {
                Some(ms) if ms < 0.0 => "off".into(),
                Some(ms) => format!("in {ms} ms"),
                None => String::new(),
            }
        }
        // io_uring.
        "cancel" => return e.text("outcome").unwrap_or_default().replace('_', " "),
        "completion" | "linked_completion" => {
            let what = match e.fields.get("is_read") {
                Some(Value::Bool(true)) => "read: ",
                Some(Value::Bool(false)) => "timeout: ",
                _ => "",
            };
            let res = match e.int("res") {
                Some(0) => "0 (end of file)".to_string(),
                Some(n) if n > 0 => format!("{n} B"),
                Some(n) => format!("-{}", errno_by_number(-n)),
                None => String::new(),
            };
            return format!("{what}{res}");
        }
        "worker" => return e.text("running").unwrap_or_default(),
        "task_poll" if kind == MarkKind::Ready => {
            let future = e.text("future").unwrap_or_default();
            return format!("{} Ready", future.split('(').next().unwrap_or(""));
        }
        "task_poll" => return String::new(),
        "et_unread" => return e.int("bytes").map(|n| format!("{n} B left unread")).unwrap_or_default(),
        _ => {}
    }
    let nested = e.fields.get("result").and_then(|r| r.get("bytes")).and_then(Value::as_i64);
    match e.int("bytes").or(nested).or_else(|| e.int("nbytes")) {
        Some(n) if n >= 0 => format!("{n} B"),
        _ => String::new(),
    }
}

/// `["readable", "writable"]` -> "in+out"; poll's flag names kept short.
fn short_flags(flags: &[&str]) -> String {
    flags
        .iter()
        .map(|f| match *f {
            "readable" | "POLLIN" => "in",
            "writable" | "POLLOUT" => "out",
            "EPOLLIN" => "in",
            "EPOLLOUT" => "out",
            other => other.trim_start_matches('E').trim_start_matches("POLL"),
        })
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::parse;

    fn build_from(lines: &str) -> Timeline {
        build(&parse(lines).events)
    }

    fn labels(tl: &Timeline) -> Vec<String> {
        tl.lanes.iter().map(Lane::label).collect()
    }

    #[test]
    fn a_reused_fd_number_gets_a_new_lane_and_a_pipe_is_one_lane() {
        let tl = build_from(concat!(
            "{\"t_ms\":0,\"event\":\"open\",\"fd\":3,\"source\":\"file\"}\n",
            "{\"t_ms\":1,\"event\":\"read_returned\",\"fd\":3,\"bytes\":26,\"blocked_ms\":0.5,\"source\":\"file\"}\n",
            "{\"t_ms\":2,\"event\":\"pipe\",\"read_fd\":3,\"write_fd\":4}\n",
            "{\"t_ms\":3,\"event\":\"pipe_write\",\"fd\":4,\"bytes\":6}\n",
            "{\"t_ms\":9,\"event\":\"read_returned\",\"fd\":3,\"bytes\":6,\"blocked_ms\":6,\"source\":\"pipe\"}\n",
        ));
        assert_eq!(labels(&tl), ["main thread", "file (fd 3)", "pipe (fd 3 ← fd 4)"]);
        let pipe: Vec<(&str, &str)> =
            tl.marks.iter().filter(|m| m.lane == 2).map(|m| (m.event.as_str(), m.note.as_str())).collect();
        assert_eq!(pipe, [("pipe", ""), ("pipe_write", "6 B"), ("read_returned", "6 B")]);
        let sleeps: Vec<(f64, f64, &str)> =
            tl.spans.iter().map(|s| (s.start, s.end, s.result.as_str())).collect();
        assert_eq!(sleeps, [(0.5, 1.0, "26 B"), (3.0, 9.0, "6 B")]);
    }

    #[test]
    fn a_wait_is_a_span_ending_in_its_result_and_ready_fds_are_marked() {
        let tl = build_from(concat!(
            "{\"t_ms\":0,\"event\":\"listening\",\"fd\":3,\"chat_fd\":3,\"stats_fd\":4}\n",
            "{\"t_ms\":1,\"event\":\"wait\",\"call\":\"select\",\"read\":[3,4]}\n",
            "{\"t_ms\":5,\"event\":\"ready\",\"count\":1,\"fds\":[{\"fd\":3,\"flags\":[\"readable\"],\"owner\":\"chat listener\"}]}\n",
            "{\"t_ms\":6,\"event\":\"accepted\",\"fd\":7,\"nick\":\"guest1\"}\n",
            "{\"t_ms\":7,\"event\":\"wait\",\"call\":\"select\"}\n",
            "{\"t_ms\":407,\"event\":\"still_waiting\",\"call\":\"select\"}\n",
            "{\"t_ms\":408,\"event\":\"renamed\",\"fd\":7,\"old\":\"guest1\",\"new\":\"ann\"}\n",
            "{\"t_ms\":409,\"event\":\"left\",\"fd\":7,\"nick\":\"ann\"}\n",
            "{\"t_ms\":410,\"event\":\"accepted\",\"fd\":7,\"nick\":\"guest2\"}\n",
        ));
        assert_eq!(
            labels(&tl),
            ["main thread", "chat listener (fd 3)", "stats listener (fd 4)", "ann (fd 7)", "guest2 (fd 7)"]
        );
        let spans: Vec<(f64, f64, &str, &str)> =
            tl.spans.iter().map(|s| (s.start, s.end, s.call.as_str(), s.result.as_str())).collect();
        assert_eq!(spans, [(1.0, 5.0, "select", "1 ready"), (7.0, 407.0, "select", "timed out")]);
        let ready: Vec<(usize, f64, &str)> = tl
            .marks
            .iter()
            .filter(|m| m.kind == MarkKind::Ready)
            .map(|m| (m.lane, m.t, m.note.as_str()))
            .collect();
        assert_eq!(ready, [(1, 5.0, "in")]);
    }

    #[test]
    fn an_io_uring_read_is_in_flight_from_its_submission_to_its_completion() {
        let tl = build_from(concat!(
            "{\"t_ms\":60,\"event\":\"io_uring_enter\",\"waited_ms\":50.0,\"in_flight\":2,\"requests\":[",
            "{\"label\":\"input 1\",\"offset\":0,\"user_data\":0},{\"label\":\"input 2\",\"offset\":0,\"user_data\":4294967296}]}\n",
            "{\"t_ms\":61,\"event\":\"completion\",\"label\":\"input 2\",\"offset\":0,\"res\":4096,\"user_data\":4294967296}\n",
            "{\"t_ms\":90,\"event\":\"io_uring_enter\",\"waited_ms\":29.0,\"in_flight\":1,\"requests\":[]}\n",
            "{\"t_ms\":91,\"event\":\"completion\",\"label\":\"input 1\",\"offset\":0,\"res\":8192,\"user_data\":0}\n",
        ));
        assert_eq!(labels(&tl), ["main thread", "input 1", "input 2"]);
        // Both submitted when the first call began (60 - 50 ms), each done at its completion.
        let bars: Vec<(f64, f64)> = tl.lanes[1..].iter().map(|l| (l.first, l.last)).collect();
        assert_eq!(bars, [(10.0, 91.0), (10.0, 61.0)]);
        let submits: Vec<(usize, &str)> = tl
            .marks
            .iter()
            .filter(|m| m.kind == MarkKind::Start)
            .map(|m| (m.lane, m.note.as_str()))
            .collect();
        assert_eq!(submits, [(1, "submit @0"), (2, "submit @0")]);
    }

    #[test]
    fn a_socket_curl_names_before_its_transfer_does_joins_the_transfer_lane() {
        let tl = build_from(concat!(
            "{\"t_ms\":0,\"event\":\"multi_init\",\"epoll_fd\":9,\"timer_fd\":11}\n",
            "{\"t_ms\":1,\"event\":\"transfer_started\",\"how\":\"multi\",\"id\":1,\"label\":\"/delay/600\"}\n",
            "{\"t_ms\":2,\"event\":\"timer_callback\",\"timeout_ms\":0.0}\n",
            "{\"t_ms\":3,\"event\":\"socket_callback\",\"epoll_ctl\":\"ADD\",\"fd\":7,\"label\":null,\"want\":\"in\"}\n",
            "{\"t_ms\":4,\"event\":\"socket_callback\",\"epoll_ctl\":\"ADD\",\"fd\":12,\"label\":\"/delay/600\",\"want\":\"out\"}\n",
            "{\"t_ms\":5,\"event\":\"socket_opened\",\"fd\":12,\"id\":1,\"label\":\"/delay/600\"}\n",
            "{\"t_ms\":9,\"event\":\"epoll_wait\",\"events\":[{\"events\":\"OUT\",\"fd\":12},{\"events\":\"IN\",\"fd\":\"timer\"}],\"ready\":2,\"waited_ms\":4.0}\n",
        ));
        assert_eq!(
            labels(&tl),
            ["main thread", "/delay/600 (#1)", "curl's timer (timerfd 11)", "curl-internal (fd 7)"]
        );
        let ready: Vec<(usize, &str)> = tl
            .marks
            .iter()
            .filter(|m| m.kind == MarkKind::Ready)
            .map(|m| (m.lane, m.note.as_str()))
            .collect();
        assert_eq!(ready, [(1, "out"), (2, "in")]);
        assert_eq!(
            tl.spans.iter().map(|s| (s.start, s.end, s.call.as_str())).collect::<Vec<_>>(),
            [(5.0, 9.0, "epoll_wait")]
        );
    }

    #[test]
    fn tokio_main_task_waits_on_while_client_tasks_run() {
        let tl = build_from(concat!(
            "{\"t_ms\":0,\"event\":\"accepted\",\"fd\":14,\"nick\":\"guest1\"}\n",
            "{\"t_ms\":1,\"event\":\"wait\",\"call\":\"tokio\"}\n",
            "{\"t_ms\":2,\"event\":\"task_poll\",\"future\":\"read(fd 14)\",\"result\":\"Ready\",\"task\":\"guest1\"}\n",
            "{\"t_ms\":3,\"event\":\"read\",\"fd\":14,\"nick\":\"guest1\",\"bytes\":5}\n",
            "{\"t_ms\":4,\"event\":\"left\",\"fd\":14,\"nick\":\"guest1\"}\n",
            "{\"t_ms\":5,\"event\":\"task_poll\",\"future\":\"recv(queue of fd 14)\",\"result\":\"Pending\",\"task\":\"guest1\"}\n",
            "{\"t_ms\":9,\"event\":\"still_waiting\",\"call\":\"tokio\"}\n",
        ));
        assert_eq!(labels(&tl), ["main task", "guest1 (fd 14)"]);
        assert_eq!(
            tl.spans.iter().map(|s| (s.start, s.end, s.call.as_str())).collect::<Vec<_>>(),
            [(1.0, 9.0, "select!")]
        );
        assert_eq!(tl.marks.iter().filter(|m| m.lane == 1).count(), 5, "every client event on its lane");
    }

    #[test]
    fn requests_and_threads_get_their_own_lanes() {
        let tl = build_from(concat!(
            "{\"t_ms\":0,\"event\":\"main_thread\",\"tid\":10}\n",
            "{\"t_ms\":1,\"event\":\"aio_read\",\"fd\":3,\"input\":0,\"label\":\"input 1\",\"nbytes\":4096}\n",
            "{\"t_ms\":2,\"event\":\"aio_cancel\",\"fd\":3,\"req\":\"NULL\",\"name\":\"AIO_NOTCANCELED\"}\n",
            "{\"t_ms\":50,\"event\":\"callback\",\"input\":0,\"bytes\":4096,\"tid\":11}\n",
            "{\"t_ms\":51,\"event\":\"main_received\",\"input\":0,\"tid\":10}\n",
        ));
        assert_eq!(labels(&tl), ["main thread", "thread (tid 11)", "input 1", "fd 3"]);
        let cancel = tl.marks.iter().find(|m| m.event == "aio_cancel").expect("the cancel is drawn");
        assert_eq!((cancel.lane, cancel.kind, cancel.note.as_str()), (3, MarkKind::Failed, "NOTCANCELED"));
        // The callback is marked on its request and on the thread that ran it.
        let callback: Vec<usize> =
            tl.marks.iter().filter(|m| m.event == "callback").map(|m| m.lane).collect();
        assert_eq!(callback, [2, 1]);
        // Main slept on the channel from its last call until the callback's message.
        assert_eq!(tl.spans.iter().map(|s| (s.lane, s.start, s.end)).collect::<Vec<_>>(), [(0, 2.0, 51.0)]);
    }
}
