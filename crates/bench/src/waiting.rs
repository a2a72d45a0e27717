//! Part 2: what waiting costs (notes: "blocking IO", "2. non-blocking IO + polling").
//!
//! A pipe whose writer writes after a delay is read twice per trial by the
//! nonblocking-read demo's own [`nonblocking_read::pipe_polling`]: once with a blocking
//! read() (the thread sleeps in the kernel), once with O_NONBLOCK and a loop that
//! retries on every EAGAIN. CPU seconds per wall second is getrusage's CPU time over
//! the wall time of the wait: about 0 for the first, about 1 (a whole core) for the second.

use crate::harness::{stats, LoadSeen, Measured};
use crate::plot::{self, Series};
use crate::report::{Bench, Goal, Table};
use common::{Narrator, Result};
use serde_json::json;
use std::time::Duration;

/// Runs part 2 and reports it.
pub fn run(bench: &mut Bench) -> Result<()> {
    bench.part(
        2,
        "waiting",
        "Waiting without burning CPU: blocking read vs a non-blocking spin on a slow pipe",
    );
    let (delays_ms, rounds): (Vec<u64>, usize) =
        if bench.quick { (vec![20, 40], 1) } else { (vec![50, 100, 200, 400], 3) };

    // Per delay: CPU share and CPU ms of each way of waiting, over the rounds.
    let mut blocking_share = vec![Vec::new(); delays_ms.len()];
    let mut spin_share = vec![Vec::new(); delays_ms.len()];
    let mut blocking_cpu_ms = vec![Vec::new(); delays_ms.len()];
    let mut spin_cpu_ms = vec![Vec::new(); delays_ms.len()];
    let mut eagain_per_s = Vec::new();
    let mut load = LoadSeen::new();
    let quiet = Narrator::quiet();
    for round in 0..rounds {
        load.sample();
        // Alternate the order of delays from round to round.
        let mut order: Vec<usize> = (0..delays_ms.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let outcome = nonblocking_read::pipe_polling(&quiet, Duration::from_millis(delays_ms[index]))?;
            blocking_share[index].push(outcome.blocking.cpu_share());
            spin_share[index].push(outcome.polling.cpu_share());
            blocking_cpu_ms[index].push(outcome.blocking.cpu.as_secs_f64() * 1e3);
            spin_cpu_ms[index].push(outcome.polling.cpu.as_secs_f64() * 1e3);
            eagain_per_s.push(outcome.eagain as f64 / outcome.polling.wall.as_secs_f64().max(1e-9));
        }
    }
    load.sample();

    let mut table =
        Table::new(&["waited", "blocking read: CPU s / wall s", "spin on EAGAIN: CPU s / wall s"]);
    let all_blocking: Vec<f64> = blocking_share.iter().flatten().copied().collect();
    let all_spin: Vec<f64> = spin_share.iter().flatten().copied().collect();
    for (index, delay) in delays_ms.iter().enumerate() {
        let b = stats(&blocking_share[index]);
        let s = stats(&spin_share[index]);
        table.row(vec![format!("{delay} ms"), format!("{:.3}", b.median), format!("{:.3}", s.median)]);
        for (way, st) in [("blocking", b), ("spin", s)] {
            let m = Measured { name: format!("{way} {delay} ms"), stats: st, load };
            bench.measurement("waiting", &m, "cpu_s_per_wall_s", json!({"way": way, "waited_ms": delay}));
        }
    }
    let blocking = stats(&all_blocking);
    let spin = stats(&all_spin);
    table.row(vec!["all".into(), format!("{:.3}", blocking.median), format!("{:.3}", spin.median)]);
    bench.table(&table);
    bench.load_line(&load);
    let spins = stats(&eagain_per_s);
    bench.n.say(format!(
        "   the spinning loop called read() about {:.1} million times a second, every one failing with EAGAIN",
        spins.median / 1e6
    ));
    bench.n.data("eagain_rate", json!({"eagain_per_s_median": spins.median}));
    bench.ratio("waiting", "blocking read: CPU s per wall s", blocking.median, Goal::AtMost(0.05), &load);
    bench.ratio("waiting", "spin: CPU s per wall s", spin.median, Goal::AtLeast(0.9), &load);

    if let Some(dir) = bench.plots.clone() {
        let line = |cpu: &[Vec<f64>]| -> Vec<(f64, f64, f64, f64)> {
            delays_ms
                .iter()
                .zip(cpu)
                .map(|(&d, v)| {
                    let s = stats(v);
                    (d as f64, s.median, s.p10, s.p90)
                })
                .collect()
        };
        let one_core: Vec<(f64, f64, f64, f64)> = [0.0]
            .iter()
            .chain(delays_ms.iter().map(|&d| d as f64).collect::<Vec<_>>().last())
            .map(|&d| (d, d, d, d))
            .collect();
        let series = vec![
            Series { name: "one whole core".into(), points: one_core, color: plot::color(3), dashed: true },
            Series {
                name: "non-blocking read, spinning on EAGAIN".into(),
                points: line(&spin_cpu_ms),
                color: plot::color(1),
                dashed: false,
            },
            Series {
                name: "blocking read".into(),
                points: line(&blocking_cpu_ms),
                color: plot::color(0),
                dashed: false,
            },
        ];
        let path = dir.join("waiting-cpu.svg");
        plot::draw(
            &path,
            "CPU time spent waiting for a slow pipe",
            "ms waited",
            "CPU ms used",
            &series,
            plot::Axes::linear(),
        )?;
        bench.plot_written(&path);
    }
    Ok(())
}
