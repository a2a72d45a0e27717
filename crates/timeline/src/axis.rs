//! The time axis: milliseconds to pixels.
//!
//! A linear axis tells durations honestly, and is the right one when the run's story
//! is how long things took (transfers overlapping, a read hidden behind processing).
//! But a chat server does forty things in one millisecond and then sleeps for four
//! hundred: on a linear axis the forty things are one blot. The cut axis gives every
//! event at least a few pixels, stretches the rest of the time in proportion, and
//! draws each long quiet gap as a fixed-width break labelled with its length.

/// How to lay out time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Cut when a linear axis would pile most marks onto each other.
    Auto,
    Linear,
    Cut,
}

/// A break in the axis: `ms` of quiet drawn between `x0` and `x1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    pub x0: f64,
    pub x1: f64,
    pub ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    t0: f64,
    t1: f64,
    x0: f64,
    x1: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pieces: Vec<Piece>,
    pub cuts: Vec<Cut>,
    /// Where the axis starts counting: tick labels are `t - origin` ms.
    pub origin: f64,
}

/// Width of one break, in pixels.
pub const CUT_PX: f64 = 44.0;
/// At most this many breaks (the longest gaps).
const MAX_CUTS: usize = 8;
/// A gap is long when it is more than this share of the whole run.
const LONG_GAP_SHARE: f64 = 0.04;

impl Axis {
    /// `t0..t1` ms spread evenly over `x0..x1` px.
    pub fn linear(t0: f64, t1: f64, x0: f64, x1: f64) -> Axis {
        let t1 = if t1 > t0 { t1 } else { t0 + 1.0 };
        Axis { pieces: vec![Piece { t0, t1, x0, x1 }], cuts: Vec::new(), origin: t0 }
    }

    /// An axis through `times` (every moment something is drawn) with long gaps cut.
    /// Falls back to linear when no gap is long.
    pub fn cut(times: &[f64], x0: f64, x1: f64) -> Axis {
        let mut ts: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
        ts.sort_by(f64::total_cmp);
        ts.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
        let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
            return Axis::linear(0.0, 1.0, x0, x1);
        };
        let total = last - first;
        let gaps: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        // Long: a real share of the run, and far longer than the typical step.
        let mut sorted = gaps.clone();
        sorted.sort_by(f64::total_cmp);
        let typical = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let mut long: Vec<usize> = (0..gaps.len())
            .filter(|&i| gaps[i] > total * LONG_GAP_SHARE && gaps[i] > typical * 20.0)
            .collect();
        long.sort_by(|&a, &b| gaps[b].total_cmp(&gaps[a]));
        long.truncate(MAX_CUTS);
        if long.is_empty() || total <= 0.0 {
            return Axis::linear(first, last, x0, x1);
        }
        let width = x1 - x0;
        // Once the longest gaps are cut, the rest of the time is stretched over the width,
        // and a gap that was short next to 400 ms can now fill a fifth of the picture:
        // cut those too (longest first), while the cuts left are few.
        loop {
            let uncut: Vec<usize> = (0..gaps.len()).filter(|i| !long.contains(i)).collect();
            let uncut_ms: f64 = uncut.iter().map(|&i| gaps[i]).sum();
            let Some(&widest) = uncut.iter().max_by(|&&a, &&b| gaps[a].total_cmp(&gaps[b])) else { break };
            let share = if uncut_ms > 0.0 { gaps[widest] / uncut_ms } else { 0.0 };
            if long.len() >= MAX_CUTS || share < 0.15 || gaps[widest] <= typical * 20.0 {
                break;
            }
            long.push(widest);
        }
        let short_steps = gaps.len() - long.len();
        let short_ms: f64 = (0..gaps.len()).filter(|i| !long.contains(i)).map(|i| gaps[i]).sum();
        let room = (width - CUT_PX * long.len() as f64).max(width * 0.3);
        // Each event gets at least `step` px; what is left is shared in proportion to time.
        let step = if short_steps == 0 { 0.0 } else { (room * 0.5 / short_steps as f64).min(4.0) };
        let per_ms = if short_ms > 0.0 { (room - step * short_steps as f64) / short_ms } else { 0.0 };
        let mut pieces = Vec::with_capacity(gaps.len());
        let mut cuts = Vec::new();
        let mut x = x0;
        for (i, gap) in gaps.iter().enumerate() {
            let is_cut = long.contains(&i);
            let w = if is_cut { CUT_PX } else { step + gap * per_ms };
            pieces.push(Piece { t0: ts[i], t1: ts[i + 1], x0: x, x1: x + w });
            if is_cut {
                cuts.push(Cut { x0: x, x1: x + w, ms: *gap });
            }
            x += w;
        }
        // Rounding and the `room` floor may leave the total a little off: scale to fit.
        let scale = if x > x0 { width / (x - x0) } else { 1.0 };
        for p in &mut pieces {
            p.x0 = x0 + (p.x0 - x0) * scale;
            p.x1 = x0 + (p.x1 - x0) * scale;
        }
        for c in &mut cuts {
            c.x0 = x0 + (c.x0 - x0) * scale;
            c.x1 = x0 + (c.x1 - x0) * scale;
        }
        Axis { pieces, cuts, origin: first }
    }

    /// Where time `t` is drawn.
    pub fn x(&self, t: f64) -> f64 {
        let (Some(first), Some(last)) = (self.pieces.first(), self.pieces.last()) else { return 0.0 };
        if t <= first.t0 {
            return first.x0;
        }
        if t >= last.t1 {
            return if last.t1 > last.t0 {
                last.x0 + (t - last.t0) / (last.t1 - last.t0) * (last.x1 - last.x0)
            } else {
                last.x1
            };
        }
        let i = self.pieces.partition_point(|p| p.t1 < t).min(self.pieces.len() - 1);
        let p = self.pieces[i];
        if p.t1 > p.t0 {
            p.x0 + (t - p.t0) / (p.t1 - p.t0) * (p.x1 - p.x0)
        } else {
            p.x0
        }
    }

    pub fn is_linear(&self) -> bool {
        self.cuts.is_empty()
    }

    /// Tick positions and labels (ms since `origin`): round numbers on a linear axis;
    /// on a cut axis, where each stretch between breaks begins and ends.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        let (Some(first), Some(last)) = (self.pieces.first(), self.pieces.last()) else { return Vec::new() };
        if self.is_linear() {
            let span = last.t1 - first.t0;
            let step = nice_step(span / 8.0);
            let mut ticks = Vec::new();
            let mut k = ((first.t0 - self.origin) / step).ceil();
            loop {
                let t = self.origin + k * step;
                if t > last.t1 + step * 1e-6 {
                    break;
                }
                ticks.push((self.x(t), format_ms(k * step, step)));
                k += 1.0;
            }
            return ticks;
        }
        let mut ticks = vec![(first.x0, format_ms(first.t0 - self.origin, 0.0))];
        for p in &self.pieces {
            if self.cuts.iter().any(|c| (c.x0 - p.x0).abs() < 1e-9) {
                ticks.push((p.x0, format_ms(p.t0 - self.origin, 0.0)));
                ticks.push((p.x1, format_ms(p.t1 - self.origin, 0.0)));
            }
        }
        ticks.push((last.x1, format_ms(last.t1 - self.origin, 0.0)));
        ticks
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough`.
pub fn nice_step(rough: f64) -> f64 {
    if rough <= 0.0 || !rough.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= rough).unwrap_or(10.0 * power)
}

/// Milliseconds for a label: as many decimals as the step needs (or a few if none).
pub fn format_ms(ms: f64, step: f64) -> String {
    let decimals = if step > 0.0 {
        (-(step.log10().floor())).clamp(0.0, 3.0) as usize
    } else if ms.abs() >= 100.0 {
        0
    } else if ms.abs() >= 1.0 {
        1
    } else {
        3
    };
    format!("{ms:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_maps_ends_and_middle() {
        let a = Axis::linear(0.0, 100.0, 100.0, 300.0);
        assert_eq!(a.x(0.0), 100.0);
        assert_eq!(a.x(50.0), 200.0);
        assert_eq!(a.x(100.0), 300.0);
        let labels: Vec<String> = a.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);
    }

    #[test]
    fn long_gaps_are_cut_and_order_is_kept() {
        let times = [0.0, 0.01, 0.02, 0.03, 400.0, 400.01, 800.0];
        let a = Axis::cut(&times, 0.0, 600.0);
        assert_eq!(a.cuts.len(), 2);
        assert!((a.cuts[0].ms - 399.97).abs() < 1e-6);
        let xs: Vec<f64> = times.iter().map(|&t| a.x(t)).collect();
        assert!(xs.windows(2).all(|w| w[1] > w[0]), "{xs:?}");
        assert!((xs[6] - 600.0).abs() < 1e-6);
        // The burst at the start is spread out, not a blot.
        assert!(xs[3] - xs[0] > 20.0, "{xs:?}");
        // A gap short next to the cut ones but long next to the rest is cut too.
        let times = [0.0, 0.01, 0.02, 12.0, 12.01, 12.02, 400.0, 400.01];
        let a = Axis::cut(&times, 0.0, 600.0);
        assert_eq!(a.cuts.iter().map(|c| c.ms.round()).collect::<Vec<_>>(), [12.0, 388.0]);
    }

    #[test]
    fn an_even_run_is_not_cut() {
        let times: Vec<f64> = (0..50).map(f64::from).collect();
        assert!(Axis::cut(&times, 0.0, 500.0).is_linear());
        // Steps of 3 to 21 µs: nothing is quiet for long compared with the rest.
        assert!(Axis::cut(&[0.0, 0.015, 0.018, 0.022, 0.043], 0.0, 500.0).is_linear());
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(130.0), 200.0);
        assert_eq!(format_ms(0.25, 0.05), "0.25");
        assert_eq!(format_ms(400.0, 100.0), "400");
    }
}
