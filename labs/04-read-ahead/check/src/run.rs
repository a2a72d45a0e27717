//! Running a submission under a deadline, without ever hanging on it.
//!
//! The program runs in its own process group, so a deadline kills it and anything it
//! started; its stdout and stderr are read on threads (a chatty program cannot fill a
//! pipe and stall), and those threads are waited for with a deadline too.

use lab_marking::marking::Submission;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one run produced.
#[derive(Debug)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    /// The exit code, or None when a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// True when the checker killed it at the deadline.
    pub killed: bool,
    /// From spawn to exit.
    pub took: Duration,
}

impl Outcome {
    /// How the run ended, for a failure message: `exit code 1; stderr: "..."`.
    pub fn describe(&self) -> String {
        let how = if self.killed {
            format!("still running after {:.1} s, so it was killed (a hang?)", self.took.as_secs_f64())
        } else if let Some(sig) = self.signal {
            let name =
                Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string());
            format!("killed by {name}")
        } else {
            format!("exit code {}", self.code.unwrap_or(-1))
        };
        let err = self.stderr.trim();
        if err.is_empty() {
            how
        } else {
            format!("{how}; stderr: {}", first_lines(err, 3))
        }
    }

    /// True when it exited 0 on its own.
    pub fn succeeded(&self) -> bool {
        self.code == Some(0) && !self.killed
    }
}

/// The first `n` lines of `text`, quoted, with "..." when there were more.
pub fn first_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let shown = lines.iter().take(n).copied().collect::<Vec<_>>().join(" | ");
    if lines.len() > n {
        format!("{shown:?} ...")
    } else {
        format!("{shown:?}")
    }
}

/// A submission started and not yet finished.
#[derive(Debug)]
pub struct Running {
    child: Child,
    started: Instant,
    out: mpsc::Receiver<(bool, Vec<u8>)>,
    done: bool,
}

impl Running {
    /// Starts `submission` with `args` (stdin is /dev/null).
    pub fn start(submission: &Submission, args: &[String]) -> Result<Running, String> {
        let mut cmd = submission.command(args);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", submission.shown()))?;
        let (tx, out) = mpsc::channel();
        if let Some(mut stdout) = child.stdout.take() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = stdout.read_to_end(&mut buf);
                let _ = tx.send((true, buf));
            });
        }
        if let Some(mut stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = stderr.read_to_end(&mut buf);
                let _ = tx.send((false, buf));
            });
        }
        Ok(Running { child, started: Instant::now(), out, done: false })
    }

    /// The program's process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(-1)
    }

    /// True once the program has exited (it is not reaped here).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the program to exit, killing it (and its process group) at `limit`
    /// after it started.
    pub fn finish(mut self, limit: Duration) -> Outcome {
        let mut killed = false;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if self.started.elapsed() < limit => std::thread::sleep(Duration::from_millis(2)),
                Ok(None) | Err(_) => {
                    killed = true;
                    self.kill();
                    break self.child.wait().ok();
                }
            }
        };
        let took = self.started.elapsed();
        self.done = true;
        // The pipes close when the program (and its group) is gone; a grandchild that
        // escaped the group could keep one open, so these waits have a deadline too.
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            match self.out.recv_timeout(Duration::from_secs(2)) {
                Ok((true, buf)) => stdout = buf,
                Ok((false, buf)) => stderr = buf,
                Err(_) => break,
            }
        }
        Outcome {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            code: status.and_then(|s| s.code()),
            signal: status.and_then(|s| s.signal()),
            killed,
            took,
        }
    }

    fn kill(&mut self) {
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.kill();
    }
}

impl Drop for Running {
    /// A check that gives up early never leaves the program running.
    fn drop(&mut self) {
        if !self.done {
            self.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the submission to completion (or `limit`).
pub fn run(submission: &Submission, args: &[String], limit: Duration) -> Result<Outcome, String> {
    Ok(Running::start(submission, args)?.finish(limit))
}
