//! Checks the real book in `docs/src` against the real workspace.
//!
//! Each test collects every problem it finds and fails once with the whole list, so a
//! broken rename shows all the places it broke. Fixes are named in the messages: most
//! are "change the chapter" or "run `just book-capture`".

#![allow(clippy::unwrap_used)] // a check that cannot read the book fails loudly, on purpose

use book_check::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    workspace_root()
}

fn book_src() -> PathBuf {
    root().join("docs/src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `docs/src/x.md` for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

fn fail_if_any(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}:\n  {}\n", problems.join("\n  "));
}

/// Package name -> crate folder, for every crate in `crates/`.
fn packages() -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .map(|n| n.trim().trim_matches('"').to_string());
        if let Some(name) = name {
            found.insert(name, entry.path());
        }
    }
    found
}

/// Packages that are not programs a student runs.
const NOT_DEMOS: &[&str] =
    &["common", "offline", "test-harness", "lab-marking", "demo-list", "run-demo", "book-check"];

/// The technique chapters, with the demo packages each one is about, from `demos.toml`
/// (two demos may share a chapter).
fn chapters() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for d in demo_list::all() {
        match out.iter_mut().find(|(chapter, _)| *chapter == d.chapter_file()) {
            Some((_, demos)) => demos.push(d.name),
            None => out.push((d.chapter_file(), vec![d.name])),
        }
    }
    out
}

/// The list of demos and the demo folders agree: every `crates/NN-*` folder is listed,
/// every listed folder exists and holds the package of that name, every chapter exists.
#[test]
fn the_list_of_demos_matches_the_demo_folders() {
    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = demo_list::all().iter().map(|d| d.folder).collect();
    for entry in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let numbered = name.len() > 3 && name[..2].chars().all(|c| c.is_ascii_digit()) && &name[2..3] == "-";
        if numbered && !listed.contains(format!("crates/{name}").as_str()) {
            problems.push(format!("crates/{name} is a demo folder missing from demos.toml"));
        }
    }
    let packages = packages();
    for d in demo_list::all() {
        let dir = root().join(d.folder);
        if !dir.is_dir() {
            problems.push(format!("demos.toml names {} for {}, which is not there", d.folder, d.name));
        } else if packages.get(d.name).map(|p| normalize(p)) != Some(normalize(&dir)) {
            problems.push(format!("{}: its package is not named {} (demos.toml)", d.folder, d.name));
        }
        if !root().join(d.chapter).is_file() {
            problems
                .push(format!("demos.toml names chapter {} for {}, which is not there", d.chapter, d.name));
        }
    }
    fail_if_any("demos.toml and crates/ disagree", &problems);
}

/// Builds every program the book runs (one cargo call per test process; a no-op after
/// `cargo test --workspace`, which has built them already) and returns the folder
/// that holds the binaries.
fn binaries() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static BUILD: Mutex<()> = Mutex::new(());
    DIR.get_or_init(|| {
        let _one_at_a_time = BUILD.lock();
        let programs: Vec<String> =
            packages().into_keys().filter(|p| !NOT_DEMOS.contains(&p.as_str())).collect();
        // This test runs as <target>/<profile>/deps/book-<hash>: the binaries are in
        // <target>/<profile>, built with the same profile as this test.
        let exe = std::env::current_exe().expect("current_exe");
        let dir = exe.parent().and_then(Path::parent).expect("target dir").to_path_buf();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root()).args(["build", "-q"]);
        if dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        for p in &programs {
            cmd.args(["-p", p]);
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build of {programs:?} failed");
        dir
    })
}

/// Runs `program args`, killing it after `limit`. Returns (exit code, stdout, stderr).
fn run_with_deadline(
    program: &Path,
    args: &[String],
    limit: Duration,
) -> Result<(i32, String, String), String> {
    let mut child = Command::new(program)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} {} did not finish within {limit:?}", program.display(), args.join(" ")));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok((status.code().unwrap_or(-1), stdout, stderr))
}

#[test]
fn every_include_resolves() {
    let mut problems = Vec::new();
    let mut count = 0;
    for md in markdown_files(&book_src()) {
        let text = read(&md);
        let dir = md.parent().unwrap();
        for inc in includes(&text) {
            count += 1;
            if let Err(why) = resolve_include(dir, &inc) {
                let sel = match &inc.selector {
                    Selector::All => String::new(),
                    Selector::Anchor(name) => format!(":{name}"),
                    Selector::Lines(a, b) => format!(":{a}:{}", b.map(|b| b.to_string()).unwrap_or_default()),
                };
                problems.push(format!(
                    "{}:{}: {{{{#include {}{sel}}}}}: {why}",
                    shown(&md),
                    inc.line,
                    inc.path
                ));
            }
        }
    }
    fail_if_any("includes that do not resolve (fix the path or the ANCHOR markers)", &problems);
    assert!(count > 10, "the book includes only {count} things; is docs/src there?");
}

#[test]
fn every_relative_link_resolves() {
    let mut problems = Vec::new();
    let mut files = markdown_files(&book_src());
    // The README's links into the book are how a student gets from the map to a chapter.
    files.push(root().join("README.md"));
    for md in &files {
        let text = read(md);
        let (_, prose) = split_fences(&text);
        let dir = md.parent().unwrap();
        let is_readme = md.ends_with("README.md");
        for (line, target) in links(&prose) {
            if target.is_empty() || is_external(&target) {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            if is_readme && !path.starts_with("docs/") {
                continue; // the rest of the README is not the book's to check
            }
            let file = if path.is_empty() { md.clone() } else { normalize(&dir.join(path)) };
            // mdBook turns every `.md` link into `.html`, which exists only inside the book.
            if !is_readme && file.extension().is_some_and(|e| e == "md") && !file.starts_with(book_src()) {
                problems.push(format!(
                    "{}:{line}: link to {target}: a .md file outside docs/src becomes a broken .html link in the built book",
                    shown(md)
                ));
                continue;
            }
            if !file.exists() {
                problems.push(format!(
                    "{}:{line}: link to {target}: {} does not exist",
                    shown(md),
                    shown(&file)
                ));
                continue;
            }
            if let (Some(fragment), true) = (fragment, file.extension().is_some_and(|e| e == "md")) {
                if !heading_ids(&read(&file)).contains(fragment) {
                    problems.push(format!("{}:{line}: link to {target}: no heading #{fragment}", shown(md)));
                }
            }
        }
    }
    fail_if_any("broken relative links", &problems);
}

#[test]
fn summary_lists_every_page() {
    let src = book_src();
    let summary = read(&src.join("SUMMARY.md"));
    let listed: BTreeSet<PathBuf> = links(&split_fences(&summary).1)
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(_, t)| normalize(&src.join(t.split('#').next().unwrap_or(""))))
        .collect();
    let mut problems = Vec::new();
    for md in markdown_files(&src) {
        if !md.ends_with("SUMMARY.md") && !listed.contains(&md) {
            problems.push(format!("{} is not in SUMMARY.md (mdBook would not show it)", shown(&md)));
        }
    }
    for (chapter, _) in chapters() {
        if !listed.contains(&src.join(chapter)) {
            problems.push(format!("chapter {chapter} (the README links it) is not in SUMMARY.md"));
        }
    }
    fail_if_any("pages missing from the book", &problems);
}

#[test]
fn code_and_output_are_included_never_pasted() {
    let mut problems = Vec::new();
    for md in markdown_files(&book_src()) {
        let text = read(&md);
        let (fences, prose) = split_fences(&text);
        // An inline code span broken over two lines hides its command from these checks.
        for (i, line) in prose.lines().enumerate() {
            if line.matches('`').count() % 2 == 1 {
                problems.push(format!(
                    "{}:{}: inline code runs over the line end (keep `...` on one line): {line}",
                    shown(&md),
                    i + 1
                ));
            }
        }
        for fence in fences {
            if fence.lang.starts_with("rust") {
                for (i, line) in fence.body.lines().enumerate() {
                    let ok = line.trim().is_empty()
                        || (line.trim_start().starts_with("{{#") && !includes(line).is_empty());
                    if !ok {
                        problems.push(format!(
                            "{}:{}: Rust code pasted into the book (use {{{{#include ../../crates/...:anchor}}}}): {line}",
                            shown(&md),
                            fence.line + 1 + i
                        ));
                        break;
                    }
                }
            }
            if fence.lang == "c" {
                problems.push(format!(
                    "{}:{}: a C listing (the notes' code is referred to, never copied)",
                    shown(&md),
                    fence.line
                ));
            }
            for (i, line) in fence.body.lines().enumerate() {
                if is_narrated_line(line) {
                    problems.push(format!(
                        "{}:{}: demo output typed by hand (capture it: just book-capture, then include it): {line}",
                        shown(&md),
                        fence.line + 1 + i
                    ));
                }
            }
        }
    }
    fail_if_any("code or output pasted instead of included", &problems);
}

#[test]
fn recipes_demos_and_flags_shown_exist() {
    let justfile = read(&root().join("justfile"));
    let recipes = justfile_recipes(&justfile);
    let packages = packages();
    let mut problems = Vec::new();
    let mut wanted: BTreeMap<String, Vec<(String, Shown)>> = BTreeMap::new();
    for md in markdown_files(&book_src()) {
        for cmd in shown_commands(&read(&md)) {
            let at = format!("{}:{}", shown(&md), cmd.line);
            if let Some(recipe) = &cmd.recipe {
                if !recipes.contains(recipe) {
                    problems.push(format!("{at}: `{}`: the justfile has no recipe `{recipe}`", cmd.text));
                }
            }
            let Some(program) = cmd.program.clone() else { continue };
            // `just trace NAME` needs NAME in demos.toml (its syscall filter).
            if cmd.recipe.as_deref() == Some("trace") && demo_list::find(&program).is_none() {
                problems
                    .push(format!("{at}: `{}`: {program} is not in demos.toml (its trace filter)", cmd.text));
            }
            if !packages.contains_key(&program) || NOT_DEMOS.contains(&program.as_str()) {
                problems.push(format!("{at}: `{}`: no demo package `{program}` in crates/", cmd.text));
                continue;
            }
            if !cmd.flags.is_empty() {
                wanted.entry(program).or_default().push((at, cmd));
            }
        }
    }
    if !wanted.is_empty() {
        let bin = binaries();
        for (program, uses) in wanted {
            let help = match run_with_deadline(
                &bin.join(&program),
                &["--help".to_string()],
                Duration::from_secs(30),
            ) {
                Ok((0, out, _)) => out,
                Ok((code, _, err)) => {
                    problems.push(format!("{program} --help exited {code}: {err}"));
                    continue;
                }
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            let known = help_flags(&help);
            for (at, cmd) in uses {
                for flag in &cmd.flags {
                    if !known.contains(flag) {
                        problems.push(format!(
                            "{at}: `{}`: {program} has no flag {flag} (see {program} --help)",
                            cmd.text
                        ));
                    }
                }
            }
        }
    }
    fail_if_any("commands in the book that do not exist", &problems);
}

#[test]
fn captured_output_matches_the_code_that_produced_it() {
    let captured = book_src().join("captured");
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for entry in
        std::fs::read_dir(&captured).expect("docs/src/captured exists (run just book-capture)").flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "events") {
            match parse_record(&read(&path)) {
                Ok(rec) => records.push((path, rec)),
                Err(e) => problems.push(format!("{}: {e}", shown(&path))),
            }
        }
    }
    assert!(!records.is_empty(), "no captured/*.events: run just book-capture");
    let packages = packages();
    for (path, rec) in &records {
        if !packages.contains_key(&rec.demo) {
            problems.push(format!("{}: demo {} is not in the workspace", shown(path), rec.demo));
        }
        // The text the chapter shows and the event list come from the same capture run.
        let output = captured.join(&rec.output);
        match std::fs::read_to_string(&output) {
            Err(_) => problems.push(format!("{}: {} is missing", shown(path), shown(&output))),
            Ok(text) => {
                let title = text
                    .lines()
                    .find(|l| is_narrated_line(l))
                    .map(|l| l.split_once("] ").map(|(_, t)| t.to_string()).unwrap_or_default());
                if title.as_deref() != Some(rec.title.as_str()) {
                    problems.push(format!(
                        "{}: its first line is {title:?}, the record says {:?}: run just book-capture",
                        shown(&output),
                        rec.title
                    ));
                }
            }
        }
    }
    fail_if_any("capture records", &problems);

    // Re-run every captured demo as it was captured and compare what it does now.
    let bin = binaries();
    // A few at a time: the demos measure timings, and the machine runs other tests too.
    let mut results: Vec<Result<(), String>> = Vec::new();
    for batch in records.chunks(4) {
        results.extend(std::thread::scope(|s| {
            let handles: Vec<_> =
                batch.iter().map(|(path, rec)| s.spawn(move || recheck(bin, path, rec))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("checker thread panicked".into())))
                .collect::<Vec<_>>()
        }));
    }
    let problems: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    fail_if_any("captured output older than the code", &problems);
}

/// Runs one captured demo again as it was captured and compares its events and title.
fn recheck(bin: &Path, path: &Path, rec: &CaptureRecord) -> Result<(), String> {
    let mut args = rec.args.clone();
    args.push("--json".into());
    let mut last = String::new();
    // Two tries: a timing-dependent event on a loaded machine is not staleness.
    for _ in 0..2 {
        let (code, out, err) = run_with_deadline(&bin.join(&rec.demo), &args, Duration::from_secs(60))?;
        if code != 0 {
            return Err(format!("{} {}: exit {code}: {err}", rec.demo, args.join(" ")));
        }
        let now = event_names(&out, rec.compare);
        let title = json_title(&out).unwrap_or_default();
        if events_match(rec.compare, &rec.events, &now) && title == rec.title {
            return Ok(());
        }
        last = if title != rec.title {
            format!("title now {title:?}, captured {:?}", rec.title)
        } else {
            describe_difference(&rec.events, &now)
        };
    }
    Err(format!("{} is stale ({last}): run just book-capture", shown(path)))
}

fn describe_difference(captured: &[String], now: &[String]) -> String {
    let a: BTreeSet<&String> = captured.iter().collect();
    let b: BTreeSet<&String> = now.iter().collect();
    let gone: Vec<&&String> = a.difference(&b).collect();
    let new: Vec<&&String> = b.difference(&a).collect();
    if gone.is_empty() && new.is_empty() {
        format!("events in another order: now {}", now.join(" "))
    } else {
        format!("events no longer emitted: {gone:?}; new events: {new:?}")
    }
}

/// Stub chapters carry `<!-- stub: PACKAGE -->`. A stub for a demo that exists is a
/// chapter that tells students something false ("not in the workspace yet").
#[test]
fn technique_chapters_are_complete_or_honest_stubs() {
    let packages = packages();
    let mut problems = Vec::new();
    for (chapter, demos) in chapters() {
        let path = book_src().join(chapter);
        let text = read(&path);
        let is_stub = text.contains("<!-- stub:");
        for demo in &demos {
            if is_stub && packages.contains_key(*demo) {
                problems.push(format!(
                    "{}: still a stub, but the {demo} demo is in the workspace: write the chapter from its code and run just book-capture",
                    shown(&path)
                ));
            }
        }
        if !is_stub {
            // A real chapter: the parts the book promises for every technique.
            let ids = heading_ids(&text);
            for part in ["what-the-notes-teach", "run-it", "the-code", "pitfalls", "try-this"] {
                if !ids.contains(part) {
                    problems.push(format!("{}: no section #{part}", shown(&path)));
                }
            }
            let exercises = try_this_items(&text);
            if !(3..=5).contains(&exercises) {
                problems.push(format!("{}: {exercises} \"Try this\" exercises (want 3 to 5)", shown(&path)));
            }
            // The code shown must be the code of the demo the chapter is about.
            let own: Vec<PathBuf> = demos.iter().filter_map(|d| packages.get(*d).cloned()).collect();
            for inc in includes(&text) {
                let file = normalize(&book_src().join(&inc.path));
                let shared =
                    ["common", "offline"].iter().any(|c| file.starts_with(root().join("crates").join(c)));
                if file.starts_with(root().join("crates"))
                    && !shared
                    && !own.iter().any(|dir| file.starts_with(dir))
                {
                    problems.push(format!(
                        "{}:{}: includes {}, which is not the code of {demos:?}",
                        shown(&path),
                        inc.line,
                        inc.path
                    ));
                }
            }
            for dir in &own {
                let shows_it =
                    includes(&text).iter().any(|inc| normalize(&book_src().join(&inc.path)).starts_with(dir));
                if !shows_it {
                    problems.push(format!("{}: includes no code from {}", shown(&path), shown(dir)));
                }
            }
            if !text.contains("Notes: \"") {
                problems.push(format!("{}: names no notes section (Notes: \"...\")", shown(&path)));
            }
            if !text.contains("captured/") {
                problems.push(format!("{}: no captured output included", shown(&path)));
            }
        }
    }
    fail_if_any("technique chapters", &problems);
}

/// Numbered items in the "Try this" section.
fn try_this_items(md: &str) -> usize {
    let (_, prose) = split_fences(md);
    let mut inside = false;
    let mut count = 0;
    for line in prose.lines() {
        if line.starts_with('#') {
            inside = heading_id(line.trim_start_matches('#')) == "try-this";
            continue;
        }
        let t = line.trim_start();
        if inside
            && line == t
            && t.split_once(". ").is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        {
            count += 1;
        }
    }
    count
}

/// The quick start names the Rust version the workspace really needs.
#[test]
fn introduction_names_the_workspace_rust_version() {
    let manifest = read(&root().join("Cargo.toml"));
    let version = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("rust-version in the workspace Cargo.toml");
    let intro = read(&book_src().join("introduction.md"));
    assert!(
        intro.contains(&format!("Rust {version} or newer")),
        "docs/src/introduction.md should say \"Rust {version} or newer\" (the workspace's rust-version)"
    );
}
