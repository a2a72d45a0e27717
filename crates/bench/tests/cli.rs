//! Runs the built bench binary as CI does (`--quick`) and checks what it reports, not
//! how fast anything was: a benchmark asserts no speed.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use serde_json::Value;
use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bench")).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn quick_json_run_reports_measurements_ratios_plots_and_load() {
    let dir = std::env::temp_dir().join(format!("aio-lab-bench-test-{}", std::process::id()));
    let out = bench(&[
        "--quick",
        "--json",
        "--only",
        "readiness,waiting,curl,aio,chat",
        "--plots",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let events = events(&out.stdout);
    assert_eq!(events[0]["event"], "bench_start");
    assert!(events.iter().all(|e| e["t_ms"].is_f64() && e["event"].is_string()));

    let measurements: Vec<&Value> = events.iter().filter(|e| e["event"] == "measurement").collect();
    // Part 1 in quick mode: 2 shapes x 3 sizes x 4 calls x 2 languages.
    let readiness = measurements.iter().filter(|m| m["part"] == "readiness").count();
    assert_eq!(readiness, 2 * 3 * 4 * 2);
    for m in &measurements {
        assert!(m["median"].as_f64().unwrap() >= 0.0, "{m}");
        assert!(m["p10"].as_f64().unwrap() <= m["p90"].as_f64().unwrap(), "{m}");
        assert!(m["load_max"].is_number() && m["load_high"].is_boolean(), "{m}");
    }
    // Part 4: the cached-read comparison (pread, aio_read twice, io_uring at depth 1 and
    // 32 and the bare loop), the slow device four ways, and double-buffering at 4 ratios P/L, AIO and io_uring.
    let aio: Vec<&&Value> = measurements.iter().filter(|m| m["part"] == "aio").collect();
    assert_eq!(aio.iter().filter(|m| m["test"] == "cached_4k_read").count(), 6);
    assert_eq!(aio.iter().filter(|m| m["test"] == "device_reads").count(), 4);
    assert_eq!(aio.iter().filter(|m| m["test"] == "uring_double_buffering").count(), 4);
    let ratios_pl: Vec<f64> = aio
        .iter()
        .filter(|m| m["test"] == "double_buffering")
        .map(|m| m["p_over_l"].as_f64().unwrap())
        .collect();
    assert_eq!(ratios_pl, [0.25, 0.5, 1.0, 2.0]);
    // Part 3: sequential, multi and select transfers; many at once with socket_action and
    // curl_multi_wait, with the delay and with none; the loop cost at 2 sizes x 5 ways (socket_action's turn the fifth).
    let curl: Vec<&&Value> = measurements.iter().filter(|m| m["part"] == "curl").collect();
    assert_eq!(curl.iter().filter(|m| m["test"] == "transfers").count(), 3);
    let many: Vec<_> = curl.iter().filter(|m| m["test"] == "many").collect();
    assert_eq!(many.len(), 4);
    assert_eq!(many.iter().filter(|m| m["delay_ms"] == 0).count(), 2, "{many:?}");
    assert_eq!(curl.iter().filter(|m| m["test"] == "loop_cost").count(), 2 * 5);
    // Part 5: 6 servers x 2 sizes, every line checked; the wake-up cost of 4 servers
    // at 2 sizes of idle crowd.
    let chat: Vec<&&Value> =
        measurements.iter().filter(|m| m["part"] == "chat" && m["unit"] == "deliveries_per_s").collect();
    assert_eq!(chat.len(), 6 * 2);
    assert!(chat.iter().all(|m| m["exact"] == true), "{chat:?}");
    let wakeups = measurements.iter().filter(|m| m["unit"] == "server_cpu_ns_per_round_trip").count();
    assert_eq!(wakeups, 4 * 2);
    let ratios: Vec<&Value> = events.iter().filter(|e| e["event"] == "ratio").collect();
    assert!(ratios.iter().any(|r| r["what"].as_str().unwrap().contains("Rust/C") && r["target"] == 1.1));
    assert!(ratios.iter().any(|r| r["what"] == "once: poll / epoll_wait at N=100"));

    let plots: Vec<&Value> = events.iter().filter(|e| e["event"] == "plot_written").collect();
    assert_eq!(plots.len(), 8); // chat-wakeup.svg the eighth
    for plot in plots {
        let svg = std::fs::read_to_string(plot["path"].as_str().unwrap()).unwrap();
        assert!(svg.starts_with("<svg"));
    }
    let done = events.last().unwrap();
    assert_eq!(done["event"], "bench_done");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_chat_server_child_refuses_an_unknown_call() {
    let out = bench(&["--chat-server", "kqueue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: usage: --chat-server \"kqueue\""));
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    let out = bench(&["--only", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: usage: unknown part \"nonsense\""), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
}
