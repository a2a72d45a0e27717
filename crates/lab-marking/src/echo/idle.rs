//! `one-thread` and `no-busy-wait`: the server watched from outside (/proc/PID/task,
//! .../children, /proc/PID/syscall, /proc/PID/stat) while idle clients sit connected.

use super::peer::Peer;
use super::{deadline, Wait, ECHO_WAIT};
use crate::lab_server::Server;
use crate::marking::Submission;
use std::time::{Duration, Instant};

/// Clients in `one-thread` and `no-busy-wait`.
pub const IDLE_CROWD: usize = 10;

/// What the server looked like from outside while [`IDLE_CROWD`] clients sat
/// connected and idle (each echoed once; one holding half a line).
pub struct IdleCrowd {
    /// The most threads /proc/PID/task showed.
    threads: usize,
    /// The most child processes /proc/PID/task/*/children showed.
    children: usize,
    /// How it spent the idle second.
    idle: Idle,
}

/// A server watched from outside while nothing happens.
pub struct Idle {
    /// The blocking calls it was seen asleep in (main thread), and how often.
    pub asleep_in: Vec<(String, u32)>,
    /// Looks at /proc/PID/stat, and how many found it running rather than asleep.
    pub looks: u32,
    pub running: u32,
    /// CPU time used meanwhile.
    pub cpu: Option<Duration>,
    /// The most threads seen, and other processes (children, or others in its
    /// process group).
    pub threads: usize,
    pub children: usize,
    /// How many times it went to sleep meanwhile (and so woke up).
    pub sleeps: Option<u64>,
}

impl Idle {
    /// Running (state R) in most looks, and measurable CPU: a loaded machine can
    /// starve a spinner of CPU, but it still shows as runnable, never as asleep. The
    /// CPU bar is two clock ticks: on a busy 2-core machine a spinner was seen getting
    /// as little as 60 ms in 0.6 s, and an idle server gets none.
    pub fn spinning(&self) -> bool {
        self.running * 2 > self.looks && self.cpu.is_none_or(|c| c >= Duration::from_millis(20))
    }

    /// The CPU time used, as reasons show it.
    pub fn cpu_shown(&self) -> String {
        self.cpu.map_or_else(|| "?".to_string(), |c| format!("{:.2} s", c.as_secs_f64()))
    }
}

/// Looks at the server every 20 ms for `span`: asleep or running, in which call,
/// how many threads and children, and the CPU it used.
pub fn watch_idle(server: &Server, span: Duration) -> Idle {
    let mut idle = Idle {
        asleep_in: Vec::new(),
        looks: 0,
        running: 0,
        cpu: None,
        threads: 0,
        children: 0,
        sleeps: None,
    };
    let before = server.cpu_time();
    let slept_before = server.sleeps();
    let until = Instant::now() + span;
    while Instant::now() < until {
        idle.looks += 1;
        if process_state(server.pid()) == Some('R') {
            idle.running += 1;
        }
        if let Some(call) = server.waiting_in() {
            match idle.asleep_in.iter_mut().find(|(c, _)| *c == call) {
                Some((_, n)) => *n += 1,
                None => idle.asleep_in.push((call, 1)),
            }
        }
        idle.threads = idle.threads.max(server.threads().unwrap_or(0));
        idle.children = idle.children.max(others(server));
        std::thread::sleep(Duration::from_millis(20));
    }
    idle.sleeps = server.sleeps().zip(slept_before).map(|(after, before)| after.saturating_sub(before));
    idle.cpu = server.cpu_time().zip(before).map(|(after, before)| after.saturating_sub(before));
    idle
}

/// The most times a second an idle server may wake up with nothing to do (a wait
/// timeout of 50 ms or more passes).
pub const MAX_WAKES_PER_S: u64 = 20;

/// How long the crowd sits idle while the server is watched.
const IDLE_FOR: Duration = Duration::from_millis(1000);

/// Connects [`IDLE_CROWD`] clients, has each echoed once, leaves one on half a line,
/// then watches the server for [`IDLE_FOR`] while nobody sends anything.
pub fn idle_crowd(submission: &Submission) -> Result<IdleCrowd, String> {
    let server = Server::start(submission)?;
    let mut clients = Vec::with_capacity(IDLE_CROWD);
    let (mut threads, mut children) = (0, 0);
    for i in 1..=IDLE_CROWD {
        let mut client = Peer::connect(&format!("client {i}"), server.addr, deadline(ECHO_WAIT))?;
        let hello = format!("client {i} is here\n");
        client.send(hello.as_bytes())?;
        client.expect(hello.as_bytes(), deadline(ECHO_WAIT)).map_err(|e| format!("not judged: {e}"))?;
        threads = threads.max(server.threads()?);
        children = children.max(others(&server));
        clients.push(client);
    }
    clients[0].send(b"half a li")?;
    std::thread::sleep(Duration::from_millis(100));
    let idle = watch_idle(&server, IDLE_FOR);
    let seen = IdleCrowd { threads: threads.max(idle.threads), children: children.max(idle.children), idle };
    drop(clients);
    Ok(seen)
}

/// How many other processes serve with it: its children, or (a process forked twice
/// has no parent left) any other process in its process group.
pub fn others(server: &Server) -> usize {
    server.children().len().max(server.group_others().len())
}

/// The state letter in /proc/PID/stat: R running (or waiting for a CPU), S asleep...
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

impl IdleCrowd {
    /// `one-thread`: one process, one thread, asleep in the lab's wait call.
    pub fn one_thread(&self, wait: &Wait) -> Result<String, String> {
        if self.children > 0 {
            return Err(format!(
                "while {IDLE_CROWD} clients were connected, the server had {} other process{} (its \
                 children in /proc/PID/task/*/children, or others in its process group, forked and left \
                 behind): the lab asks for one process serving every client with {}, not a process per \
                 client",
                self.children,
                if self.children == 1 { "" } else { "es" },
                wait.call
            ));
        }
        if self.threads > 1 {
            return Err(format!(
                "while {IDLE_CROWD} clients were connected, the server had {} threads (/proc/PID/task): \
                 the lab asks for one thread serving every client with {}, not a thread per client \
                 (or a pool)",
                self.threads, wait.call
            ));
        }
        let other: Vec<String> = self
            .idle
            .asleep_in
            .iter()
            .filter(|(call, _)| !wait.calls.contains(&call.as_str()))
            .map(|(call, n)| format!("{call} ({n} times)"))
            .collect();
        if !other.is_empty() {
            return Err(format!(
                "with {IDLE_CROWD} clients connected and idle, the server was seen asleep in {} \
                 (/proc/PID/syscall): the lab asks for {} as the one place it waits",
                other.join(", "),
                wait.calls_shown
            ));
        }
        let polls: u32 = self.idle.asleep_in.iter().map(|(_, n)| n).sum();
        Ok(format!(
            "one process, one thread, while {IDLE_CROWD} clients were connected; asleep in {} {polls} of {} looks",
            wait.call,
            self.idle.looks
        ))
    }

    /// `no-busy-wait`: idle clients cost no CPU.
    pub fn no_busy_wait(&self, wait: &Wait) -> Result<String, String> {
        let idle = &self.idle;
        if idle.spinning() {
            return Err(format!(
                "with {IDLE_CROWD} clients connected and idle, the server was running, not asleep, in {} of \
                 {} looks at /proc/PID/stat, and used {} of CPU in {:.1} s: it is spinning, its wait \
                 returns at once over and over. The usual cause: {}",
                idle.running,
                idle.looks,
                idle.cpu_shown(),
                IDLE_FOR.as_secs_f64(),
                wait.spin_cause
            ));
        }
        // A wait with a short timeout, used as a sleep (every client tried at each
        // tick), sleeps nearly all the time and spends little CPU: what gives it away
        // is how often it wakes with nothing to do.
        let wakes = idle.sleeps.unwrap_or(0);
        if wakes > MAX_WAKES_PER_S * IDLE_FOR.as_secs() {
            return Err(format!(
                "with {IDLE_CROWD} clients connected and idle, the server went to sleep and woke up {wakes} \
                 times in {:.1} s (voluntary_ctxt_switches in /proc/PID/status): it wakes on a short timeout \
                 with nothing to do, instead of waiting in {} for something to happen. A timeout is free, but \
                 more than {MAX_WAKES_PER_S} wake-ups a second with nothing to do is polling, not waiting",
                IDLE_FOR.as_secs_f64(),
                wait.call
            ));
        }
        Ok(format!(
            "asleep in {} of {} looks while {IDLE_CROWD} clients sat idle, woken {wakes} time{}; {} of CPU in {:.1} s",
            idle.looks - idle.running,
            idle.looks,
            if wakes == 1 { "" } else { "s" },
            idle.cpu_shown(),
            IDLE_FOR.as_secs_f64()
        ))
    }
}
