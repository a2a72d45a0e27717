//! `just timeline NAME [ARGS]`: run a demo with `--json` and draw that run as an SVG.
//!
//!     just timeline select                  # writes target/timeline/select.svg
//!     just timeline pselect --show-race
//!     some-program --json | just timeline - # any program's events, from stdin
//!
//! Open the SVG in any browser or image viewer; no JavaScript, no fonts to install.
//! Each thread gets a lane (its wait calls are spans, pale blue while it slept), each
//! thing the program works on gets a lane (fd, transfer, request, input), and each
//! event is a mark on the lane it concerns. The book's pictures are drawn the same way
//! by docs/capture.sh from the captured runs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::{Parser, ValueEnum};
use common::error::{Context, Error, Result};
use timeline::{Caption, Mode};

#[derive(Parser, Debug)]
#[command(
    name = "timeline",
    version,
    about = "Draw one run of a demo as an SVG timeline, from its --json events",
    long_about = "Runs the demo NAME with --json (and ARGS), reads its events, and writes an SVG: one \
lane per thread and per thing the program works on (fd, client, transfer, request), each wait call a \
span on its thread (shaded while it slept, ending in its result), each readiness, accept, read, write, \
completion, cancel and signal a mark on its lane. Prints the SVG's path. NAME `-` reads JSON Lines from \
stdin instead, so any program's --json output can be drawn.",
    after_help = "Examples:\n  timeline select                     the chat server's scripted run\n  \
timeline curl-multi --sequential    the blocking baseline, to compare with `timeline curl-multi`\n  \
timeline --axis linear pselect --show-race\n  \
my-lab-program --json | timeline - -o run.svg"
)]
struct Cli {
    /// Where to write the SVG (default: target/timeline/NAME.svg)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// The command line shown under the title (default: `just run NAME ARGS`)
    #[arg(long, value_name = "TEXT")]
    command: Option<String>,

    /// How to lay out time: linear, cut (quiet gaps drawn as breaks) or auto
    #[arg(long, value_enum, default_value_t = AxisArg::Auto)]
    axis: AxisArg,

    /// A linear axis this many ms long, to compare two pictures at the same scale
    #[arg(long, value_name = "MS")]
    axis_ms: Option<f64>,

    /// Draw only the events with FIELD=VALUE (and the unlabelled ones among them), e.g. run=overlap
    #[arg(long, value_name = "FIELD=VALUE")]
    only: Option<String>,

    /// A demo (as in `just list`), or - to read JSON Lines from stdin
    #[arg(value_name = "NAME")]
    name: String,

    /// Arguments for the demo (--json is added)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    args: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AxisArg {
    Auto,
    Linear,
    Cut,
}

/// The workspace this binary was built in (two folders above this crate).
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().and_then(Path::parent).unwrap_or(here).to_path_buf()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    common::error::main_wrapper(|| run(cli))
}

fn run(cli: Cli) -> Result<()> {
    let only = match &cli.only {
        Some(spec) => match spec.split_once('=') {
            Some((field, value)) if !field.is_empty() => Some((field.to_string(), value.to_string())),
            _ => return Err(Error::usage(format!("--only wants FIELD=VALUE, not {spec:?}"))),
        },
        None => None,
    };
    if cli.axis_ms.is_some_and(|ms| !(ms > 0.0 && ms.is_finite())) {
        return Err(Error::usage("--axis-ms wants a positive number of milliseconds"));
    }
    let (text, command, default_name, demo_failed) = if cli.name == "-" {
        if !cli.args.is_empty() {
            return Err(Error::usage("`timeline -` reads events from stdin and takes no demo arguments"));
        }
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("read events from stdin")?;
        (text, String::new(), "stdin".to_string(), None)
    } else {
        if cli.name.is_empty() {
            let list: String = demo_list::all().iter().map(|d| format!("\n  {}", d.name)).collect();
            return Err(Error::usage(format!(
                "just timeline NAME [ARGS...] (or `just timeline - < events.jsonl`); the demos are:{list}"
            )));
        }
        if demo_list::find(&cli.name).is_none() {
            let list: String = demo_list::all().iter().map(|d| format!("\n  {}", d.name)).collect();
            let near = demo_list::did_you_mean(&cli.name)
                .map(|n| format!(" did you mean {n:?}?"))
                .unwrap_or_default();
            return Err(Error::usage(format!("no demo named {:?};{near} the demos are:{list}", cli.name)));
        }
        // `just timeline curl-multi -- --parallel 2`: the `--` is ours to drop.
        let args = match cli.args.split_first() {
            Some((first, rest)) if first == "--" => rest,
            _ => &cli.args[..],
        };
        let (text, status) = run_demo(&cli.name, args)?;
        let shown = std::iter::once(cli.name.as_str())
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        (text, format!("just run {shown}"), cli.name.clone(), status)
    };
    let caption = Caption {
        command: cli.command.clone().unwrap_or(command),
        fingerprint: String::new(),
        only: cli.only.clone().unwrap_or_default(),
        axis_ms: cli.axis_ms,
        mode: Some(match cli.axis {
            AxisArg::Auto => Mode::Auto,
            AxisArg::Linear => Mode::Linear,
            AxisArg::Cut => Mode::Cut,
        }),
    };
    let only_ref = only.as_ref().map(|(f, v)| (f.as_str(), v.as_str()));
    let svg = timeline::render(&text, &caption, only_ref).map_err(|e| Error::msg("draw the timeline", e))?;
    let path = match cli.output {
        Some(path) => path,
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| workspace_root().join("target"), PathBuf::from);
            let dir = target.join("timeline");
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            dir.join(format!("{default_name}.svg"))
        }
    };
    std::fs::write(&path, svg).with_context(|| format!("write {}", path.display()))?;
    println!("{}", path.display());
    match demo_failed {
        Some(code) => Err(Error::msg(
            format!("{} exited with status {code}", cli.name),
            "the picture shows the run up to there",
        )),
        None => Ok(()),
    }
}

/// Runs the demo through cargo (which builds it if needed); its stderr passes through.
/// `--bin`, not `-p`: `-p io-uring` would be ambiguous (the demo, and the crate it uses).
/// Returns its stdout and, if it failed, its exit code.
fn run_demo(name: &str, args: &[String]) -> Result<(String, Option<i32>)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args: Vec<&String> = args.iter().filter(|a| a.as_str() != "--json").collect();
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["run", "-q", "--bin", name, "--"])
        .args(args)
        .arg("--json")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("run cargo run -p {name}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let failed = (!output.status.success()).then(|| output.status.code().unwrap_or(1));
    Ok((text, failed))
}
