//! How every figure is taken on a shared, noisy machine.
//!
//! * **Interleaved variants.** The variants being compared run one batch each in turn,
//!   round after round, in a shuffled order. A burst of load from someone else's build
//!   then hits all of them alike instead of ruining whichever ran during the burst.
//! * **Many batches, medians.** Each batch gives one figure (for example nanoseconds per
//!   call); a variant's result is the median over all its batches, with the 10th and 90th
//!   percentiles beside it to show the spread. Ratios are ratios of medians.
//! * **Load average beside every run.** `/proc/loadavg` is read before every round; each
//!   result carries the lowest and highest 1-minute load seen, and a run is flagged when
//!   that load was high for the machine's core count.

use common::{Context, Error, Result};
use std::time::{Duration, Instant};

/// One reading of `/proc/loadavg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadAvg {
    /// 1-minute load average: runnable (and uninterruptible) tasks, smoothed.
    pub one: f64,
    /// Tasks runnable at the instant of reading (this process's running thread included).
    pub running: u32,
}

/// Reads `/proc/loadavg` ("0.52 0.58 0.59 3/411 12345").
pub fn loadavg() -> Result<LoadAvg> {
    let text = std::fs::read_to_string("/proc/loadavg").context("read /proc/loadavg")?;
    parse_loadavg(&text).ok_or_else(|| Error::msg("parse /proc/loadavg", format!("unexpected text {text:?}")))
}

fn parse_loadavg(text: &str) -> Option<LoadAvg> {
    let mut fields = text.split_whitespace();
    let one = fields.next()?.parse().ok()?;
    let running = fields.nth(2)?.split('/').next()?.parse().ok()?;
    Some(LoadAvg { one, running })
}

/// The number of CPU cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Above this 1-minute load a run is flagged: 3/4 of the cores busy. This benchmark
/// alone keeps about one task runnable, so on 2 cores a flag means someone else was
/// using at least half of the other core.
pub fn load_limit(cores: usize) -> f64 {
    0.75 * cores as f64
}

/// The load seen over one run (all the rounds of one interleaved comparison).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadSeen {
    /// Lowest 1-minute load average read.
    pub min: f64,
    /// Highest 1-minute load average read.
    pub max: f64,
    /// Most tasks seen runnable at one reading.
    pub running_max: u32,
    /// Readings taken.
    pub samples: u32,
}

impl LoadSeen {
    /// No readings yet.
    pub fn new() -> Self {
        LoadSeen { min: f64::INFINITY, max: 0.0, running_max: 0, samples: 0 }
    }

    /// Adds one reading of `/proc/loadavg` (a failed read is skipped: the figure is
    /// context for the numbers, not a reason to abort a run).
    pub fn sample(&mut self) {
        if let Ok(load) = loadavg() {
            self.min = self.min.min(load.one);
            self.max = self.max.max(load.one);
            self.running_max = self.running_max.max(load.running);
            self.samples += 1;
        }
    }

    /// Merges another run's readings into this one.
    pub fn merge(&mut self, other: &LoadSeen) {
        if other.samples > 0 {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
            self.running_max = self.running_max.max(other.running_max);
            self.samples += other.samples;
        }
    }

    /// True when the load was above [`load_limit`] at some reading.
    pub fn high(&self, cores: usize) -> bool {
        self.samples > 0 && self.max > load_limit(cores)
    }

    /// `load 0.41-0.87` or `load 2.10-2.90 HIGH`.
    pub fn describe(&self, cores: usize) -> String {
        if self.samples == 0 {
            return "load unknown".into();
        }
        let range = if (self.max - self.min).abs() < 0.005 {
            format!("load {:.2}", self.max)
        } else {
            format!("load {:.2}-{:.2}", self.min, self.max)
        };
        if self.high(cores) {
            format!("{range} HIGH (> {:.1} on {cores} cores: figures are noisy)", load_limit(cores))
        } else {
            range
        }
    }

    /// The JSON fields every measurement carries.
    pub fn to_json(&self, cores: usize) -> serde_json::Value {
        serde_json::json!({
            "load_min": if self.samples > 0 { self.min } else { 0.0 },
            "load_max": self.max,
            "running_max": self.running_max,
            "cores": cores,
            "load_high": self.high(cores),
        })
    }
}

impl Default for LoadSeen {
    fn default() -> Self {
        Self::new()
    }
}

/// Median and spread of one variant's batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// The middle batch.
    pub median: f64,
    /// 10th percentile: 1 batch in 10 was faster (smaller) than this.
    pub p10: f64,
    /// 90th percentile.
    pub p90: f64,
    /// How many batches.
    pub batches: usize,
}

/// Median, p10 and p90 of `values` (linear interpolation between the closest ranks).
pub fn stats(values: &[f64]) -> Stats {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let pos = q * (sorted.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    };
    Stats { median: at(0.5), p10: at(0.1), p90: at(0.9), batches: sorted.len() }
}

/// One thing being measured: `run` performs one batch and returns its figure.
pub struct Variant<'a> {
    /// A short name for tables and JSON (`poll`, `epoll C`...).
    pub name: String,
    /// One batch; returns the batch's figure (for example ns per operation).
    pub run: Box<dyn FnMut() -> Result<f64> + 'a>,
}

impl<'a> Variant<'a> {
    /// A variant from a name and a closure.
    pub fn new(name: impl Into<String>, run: impl FnMut() -> Result<f64> + 'a) -> Self {
        Variant { name: name.into(), run: Box::new(run) }
    }
}

/// What one variant measured over a run.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The variant's name.
    pub name: String,
    /// Median and spread of its batch figures.
    pub stats: Stats,
    /// The load average over the run (shared by every variant of the run).
    pub load: LoadSeen,
}

/// A small deterministic shuffle (xorshift), so runs are repeatable without a crate.
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn order(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        order
    }
}

// ANCHOR: interleave
/// Runs `rounds` rounds; in each, every variant runs one batch, in a fresh shuffled
/// order. Returns each variant's median and spread, in the order given.
pub fn interleave(variants: &mut [Variant<'_>], rounds: usize) -> Result<Vec<Measured>> {
    let mut figures: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); variants.len()];
    let mut load = LoadSeen::new();
    let mut shuffle = Shuffle(0x9e37_79b9_7f4a_7c15);
    for _ in 0..rounds.max(1) {
        load.sample();
        for index in shuffle.order(variants.len()) {
            let variant = &mut variants[index];
            let figure =
                (variant.run)().map_err(|e| Error { what: format!("{}: {}", variant.name, e.what), ..e })?;
            figures[index].push(figure);
        }
    }
    load.sample();
    Ok(variants
        .iter()
        .zip(figures)
        .map(|(variant, figures)| Measured { name: variant.name.clone(), stats: stats(&figures), load })
        .collect())
}
// ANCHOR_END: interleave

/// How many iterations make one batch last about `target`: doubles from 1 until a
/// batch is long enough that the clock's own cost and jitter stop mattering, then
/// times that size three more times and scales from the fastest, so one preemption
/// during calibration cannot shrink every later batch of this variant.
pub fn calibrate(target: Duration, mut batch: impl FnMut(u64) -> Result<Duration>) -> Result<u64> {
    let mut iters = 1u64;
    while iters < 1 << 24 && batch(iters)? < target {
        iters *= 2;
    }
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        fastest = fastest.min(batch(iters)?);
    }
    let per_iter = fastest.as_secs_f64() / iters as f64;
    let scaled = if per_iter > 0.0 { (target.as_secs_f64() / per_iter).ceil() as u64 } else { iters };
    Ok(scaled.clamp(1, 1 << 24))
}

/// Times `f` once.
pub fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<(Duration, T)> {
    let start = Instant::now();
    let value = f()?;
    Ok((start.elapsed(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_parses_the_kernel_format() {
        let load = parse_loadavg("0.52 0.58 0.59 3/411 12345\n").unwrap();
        assert_eq!(load, LoadAvg { one: 0.52, running: 3 });
        assert!(parse_loadavg("garbage").is_none());
        // The real file parses too.
        let real = loadavg().unwrap();
        assert!(real.one >= 0.0 && real.running >= 1);
    }

    #[test]
    fn stats_give_median_and_percentiles() {
        let s = stats(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.batches, 5);
        assert!((s.p10 - 1.4).abs() < 1e-9, "{s:?}");
        assert!((s.p90 - 4.6).abs() < 1e-9, "{s:?}");
        let one = stats(&[7.0]);
        assert_eq!((one.median, one.p10, one.p90), (7.0, 7.0, 7.0));
        assert!(stats(&[]).median.is_nan());
    }

    #[test]
    fn interleave_runs_every_variant_every_round_in_changing_order() {
        let log = std::cell::RefCell::new(Vec::new());
        let mut variants = vec![
            Variant::new("a", || {
                log.borrow_mut().push('a');
                Ok(1.0)
            }),
            Variant::new("b", || {
                log.borrow_mut().push('b');
                Ok(2.0)
            }),
            Variant::new("c", || {
                log.borrow_mut().push('c');
                Ok(3.0)
            }),
        ];
        let measured = interleave(&mut variants, 6).unwrap();
        drop(variants);
        let log = log.into_inner();
        assert_eq!(log.len(), 18);
        assert_eq!(log.iter().filter(|&&c| c == 'a').count(), 6);
        // Not always the same order.
        let firsts: std::collections::HashSet<char> = log.chunks(3).map(|round| round[0]).collect();
        assert!(firsts.len() > 1, "{log:?}");
        assert_eq!(measured[1].name, "b");
        assert_eq!(measured[1].stats.median, 2.0);
        assert!(measured[0].load.samples >= 2);
    }

    #[test]
    fn load_flag_follows_the_core_count() {
        let mut seen = LoadSeen::new();
        assert!(!seen.high(2));
        seen.merge(&LoadSeen { min: 0.4, max: 1.2, running_max: 2, samples: 3 });
        assert!(!seen.high(2));
        assert!(seen.high(1));
        assert!(seen.describe(1).contains("HIGH"), "{}", seen.describe(1));
        assert_eq!(seen.describe(2), "load 0.40-1.20");
    }

    #[test]
    fn calibrate_reaches_the_target() {
        let iters = calibrate(Duration::from_micros(200), |n| {
            let start = Instant::now();
            let mut x = 0u64;
            for i in 0..n * 100 {
                x = std::hint::black_box(x.wrapping_add(i));
            }
            Ok(start.elapsed())
        })
        .unwrap();
        assert!(iters >= 1);
    }
}
