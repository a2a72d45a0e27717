//! The submission as a child process (the same as lab 1's checker, less the /proc probes): started with `--listen 127.0.0.1:0`, its first
//! stdout line read for the port, stdout and stderr drained for as long as it runs (a
//! program blocked on a full pipe would look hung), killed when dropped.
//!
//! Every wait here has a deadline, and every failure says what the program did wrong in
//! words a student can act on.

use fixtures::marking::Submission;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a program may take to print its `listening on` line.
const START_WAIT: Duration = Duration::from_secs(5);

/// A running submission.
pub struct Server {
    child: Child,
    /// Where it listens, from its first line.
    pub addr: SocketAddr,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// Starts the submission and waits for `listening on IP:PORT`.
    pub fn start(submission: &Submission) -> Result<Server, String> {
        let mut child = submission
            .command(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not run {}: {e}", submission.shown()))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut all) = sink.lock() {
                        if all.len() < 64 * 1024 {
                            all.extend_from_slice(&buf[..n]);
                        }
                    }
                }
            });
        }
        let (tx, rx) = channel();
        if let Some(pipe) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut lines = BufReader::new(pipe);
                let mut first = true;
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match lines.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if first => {
                            first = false;
                            let _ = tx.send(line.clone());
                        }
                        Ok(_) => {} // later lines: the program's own log, ignored
                    }
                }
            });
        }
        let mut server = Server { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), stderr };
        let first = match rx.recv_timeout(START_WAIT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Disconnected) => {
                // stdout closed without a line: it exited (or closed stdout).
                let status = server.wait_exit(Duration::from_secs(1));
                return Err(format!(
                    "it {} without printing `listening on IP:PORT`{}",
                    status.map_or_else(
                        || "closed its stdout".to_string(),
                        |s| format!("exited ({})", describe(s))
                    ),
                    server.stderr_tail()
                ));
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "it printed no line on stdout within {} s. It must print `listening on IP:PORT` first, \
                     ending in a newline; stdout is a pipe here, not a terminal, so it is fully buffered \
                     in C: call fflush(stdout) after printing{}",
                    START_WAIT.as_secs(),
                    server.stderr_tail()
                ));
            }
        };
        let text = String::from_utf8_lossy(&first);
        let text = text.trim_end();
        let Some(addr) = text.strip_prefix("listening on ") else {
            return Err(format!("its first line was {text:?}; it must be `listening on IP:PORT`"));
        };
        let mut addr: SocketAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("its first line was {text:?}: {addr:?} is not an IP:PORT"))?;
        if addr.port() == 0 {
            return Err(format!(
                "its first line was {text:?}: port 0 means \"any port\"; print the port the kernel chose \
                 (getsockname() after bind())"
            ));
        }
        if addr.ip().is_unspecified() {
            addr.set_ip([127, 0, 0, 1].into());
        }
        server.addr = addr;
        Ok(server)
    }

    /// Ok while the program runs; once it has exited, how, and what it said.
    pub fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the server died ({}){}", describe(status), self.stderr_tail())),
            Err(e) => Err(format!("waitpid: {e}")),
        }
    }

    /// Waits up to `within` for the program to exit.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The last lines of its stderr, as "; its stderr ended: ..." (or nothing).
    pub fn stderr_tail(&self) -> String {
        std::thread::sleep(Duration::from_millis(20)); // let the drain thread catch up
        let all = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&all);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return String::new();
        }
        let tail = &lines[lines.len().saturating_sub(3)..];
        format!("; its stderr ended: {}", tail.join(" | "))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// "exit status 1", "killed by SIGPIPE (signal 13)".
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(signo) => {
            let name =
                nix::sys::signal::Signal::try_from(signo).map(|s| s.as_str()).unwrap_or("unknown signal");
            format!("killed by {name} (signal {signo})")
        }
        None => format!("{status}"),
    }
}
