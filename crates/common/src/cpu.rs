//! CPU time used by this process, from getrusage(RUSAGE_SELF): how a demo shows that
//! a blocked read costs nothing while a polling loop burns a core.

use crate::error::{Context, Result};
use nix::sys::resource::{getrusage, UsageWho};
use std::time::{Duration, Instant};

/// User + system CPU time this process has used so far (all threads).
pub fn cpu_time() -> Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).context("getrusage(RUSAGE_SELF)")?;
    let to_duration = |tv: nix::sys::time::TimeVal| {
        Duration::from_secs(tv.tv_sec().max(0) as u64) + Duration::from_micros(tv.tv_usec().max(0) as u64)
    };
    Ok(to_duration(usage.user_time()) + to_duration(usage.system_time()))
}

/// Wall time and CPU time over one stretch of code.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    wall_start: Instant,
    cpu_start: Duration,
}

/// What a [`Stopwatch`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spent {
    /// Elapsed wall-clock time.
    pub wall: Duration,
    /// CPU time used by the whole process meanwhile.
    pub cpu: Duration,
}

impl Spent {
    /// CPU seconds per wall second: about 0 while blocked, about 1 while spinning.
    pub fn cpu_share(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall <= 0.0 {
            0.0
        } else {
            self.cpu.as_secs_f64() / wall
        }
    }
}

impl Stopwatch {
    /// Starts measuring now.
    pub fn start() -> Result<Self> {
        Ok(Stopwatch { wall_start: Instant::now(), cpu_start: cpu_time()? })
    }

    /// Wall and CPU time since [`Stopwatch::start`].
    pub fn stop(&self) -> Result<Spent> {
        let cpu = cpu_time()?.saturating_sub(self.cpu_start);
        Ok(Spent { wall: self.wall_start.elapsed(), cpu })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinning_uses_cpu_and_sleeping_does_not() {
        let watch = Stopwatch::start().unwrap();
        let until = Instant::now() + Duration::from_millis(150);
        let mut x = 0u64;
        while Instant::now() < until {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        let spun = watch.stop().unwrap();
        assert!(spun.cpu >= Duration::from_millis(20), "spin used {:?}", spun.cpu);

        let watch = Stopwatch::start().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        let slept = watch.stop().unwrap();
        assert!(slept.wall >= Duration::from_millis(150));
        assert!(slept.cpu < spun.cpu, "sleep {:?} vs spin {:?}", slept.cpu, spun.cpu);
    }
}
