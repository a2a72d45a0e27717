#!/usr/bin/env bash
# Captures the program output the book shows: `just book-capture`.
#
# Runs each demo the way the book says (NO_COLOR set, text output), writes what it
# printed to docs/src/captured/NAME.txt for the chapters to {{#include}}, and writes
# NAME.events: the arguments, the title line and the event names of a --json run of
# the same command. crates/book-check re-runs the demo and compares its events with
# that record, so a capture that no longer matches the code fails `cargo test`.
#
# Demos not in the workspace yet are skipped (their chapters are stubs). Traces need
# strace; without it they are skipped and the old trace files kept.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/src/captured
bin="${CARGO_TARGET_DIR:-target}/debug"
export NO_COLOR=1
mkdir -p "$out"

# The evidence programs (docs/evidence, `just evidence NAME`): each one's output to
# captured/evidence-NAME.txt. `docs/capture.sh evidence` captures only these.
capture_evidence() {
  cargo build -q -p evidence --bins
  local name
  for name in $("$bin/evidence" | awk 'NR > 1 { print $1 }'); do
    echo "capture evidence-$name: just evidence $name" >&2
    { echo "\$ just evidence $name"; "$bin/evidence" "$name"; } >"$out/evidence-$name.txt.new" || {
      echo "error: just evidence $name failed: a claim no longer holds" >&2
      cat "$out/evidence-$name.txt.new" >&2
      exit 1
    }
    mv "$out/evidence-$name.txt.new" "$out/evidence-$name.txt"
  done
}
if [ "${1:-}" = evidence ]; then
  capture_evidence
  exit 0
fi

# The crate folder of a package, or nothing.
crate_of() { grep -l "^name = \"$1\"" crates/*/Cargo.toml 2>/dev/null | head -1 | xargs -r dirname; }
present() { [ -n "$(crate_of "$1")" ]; }

# Build everything we will run, once.
# The demos, from demos.toml (through run-demo).
mapfile -t demos < <(cargo demo --list)
build=()
for d in "${demos[@]}"; do present "$d" && build+=(-p "$d"); done
echo "cargo build -q ${build[*]}" >&2
cargo build -q "${build[@]}"

# capture FILE DEMO COMPARE [ARGS...]: text output to FILE.txt, event record to FILE.events.
# COMPARE is "sequence" for single-threaded demos that always tell their story in the
# same order, "set" for concurrent ones whose events interleave differently each run,
# and "required:NAME NAME..." for runs whose narration itself varies (only those names
# must appear).
capture() {
  local file=$1 demo=$2 compare=$3
  shift 3
  if ! present "$demo"; then
    echo "skip $file: $demo is not in the workspace" >&2
    return
  fi
  echo "capture $file: $demo $*" >&2
  {
    echo "\$ just run $demo${*:+ $*}"
    "$bin/$demo" "$@"
  } >"$out/$file.txt.new"
  local json title events
  json=$("$bin/$demo" "$@" --json)
  title=$(grep -m1 -E '^\[ *[0-9]+\.[0-9]{3}\] ' "$out/$file.txt.new" | sed -E 's/^\[ *[0-9.]+\] //')
  events=$(sed -nE 's/^\{"t_ms":[^,]*,"event":"([A-Za-z0-9_]+)".*/\1/p' <<<"$json")
  case "$compare" in
    sequence) events=$(uniq <<<"$events") ;;
    set) events=$(sort -u <<<"$events") ;;
    required:*)
      # Only these must appear (a run whose narration batches events differently each time).
      local want
      for want in ${compare#required:}; do
        grep -qx "$want" <<<"$events" || { echo "error: $demo $* emitted no $want event" >&2; exit 1; }
      done
      events=$(tr ' ' '\n' <<<"${compare#required:}")
      compare=required
      ;;
    *) echo "error: compare must be sequence, set or required:EVENTS" >&2; exit 1 ;;
  esac
  {
    echo "# Written by docs/capture.sh (just book-capture); checked by crates/book-check."
    echo "# A fresh run of the demo with these args and --json must emit these events."
    echo "demo: $demo"
    echo "args: $*"
    echo "output: $file.txt"
    echo "compare: $compare"
    echo "title: $title"
    echo "events: $(tr '\n' ' ' <<<"$events" | sed 's/ $//')"
  } >"$out/$file.events"
  mv "$out/$file.txt.new" "$out/$file.txt"
}

# capture_error FILE DEMO [ARGS...]: a run that must fail: what it printed (stdout and
# stderr, in order) and its exit status.
capture_error() {
  local file=$1 demo=$2
  shift 2
  present "$demo" || { echo "skip $file: $demo is not in the workspace" >&2; return; }
  echo "capture $file: $demo $* (expected to fail)" >&2
  local status=0 all
  all=$("$bin/$demo" "$@" 2>&1) || status=$?
  if [ "$status" -eq 0 ]; then
    echo "error: $demo $* was expected to fail" >&2
    exit 1
  fi
  printf '$ just run %s %s\n%s\n$ echo $?\n%s\n' "$demo" "$*" "$all" "$status" >"$out/$file.txt"
}

# capture_trace FILE DEMO PATTERN MAX [ARGS...]: `just trace DEMO ARGS`, keeping the
# strace lines that match PATTERN (an extended regex), at most MAX of them, with runs of
# identical lines folded into one "(N more like this)" line.
capture_trace() {
  local file=$1 demo=$2 pattern=$3 max=$4
  shift 4
  present "$demo" || { echo "skip $file: $demo is not in the workspace" >&2; return; }
  command -v strace >/dev/null || { echo "skip $file: strace is not installed" >&2; return; }
  echo "capture $file: just trace $demo $*" >&2
  local raw
  raw=$(mktemp)
  # The recipe prints the strace command and the trace on stderr; the demo's own
  # output (stdout) is not what this page is about.
  just trace "$demo" "$@" 2>"$raw" >/dev/null
  {
    echo "\$ just trace $demo${*:+ $*}"
    head -1 "$raw"
    tail -n +2 "$raw" | grep -E "$pattern" | sed -E 's/0x[0-9a-f]{6,}/0x.../g; s/clone3\(\{flags=[^}]*\}/clone3({...}/' | awk -v max="$max" '
      function flush() { if (same > 0 && printing) printf "    ... (%d more like the line above)\n", same }
      { key = $0; sub(/^\[pid +[0-9]+\] /, "", key) }
      key == last { same++; next }
      { flush(); same = 0; last = key }
      ++shown > max { cut++; printing = 0; next }
      { printing = 1; print }
      END { flush(); if (cut) printf "    ... (%d more lines cut)\n", cut }'
  } >"$out/$file.txt"
  rm -f "$raw"
}

# excerpt FILE FROM PATTERN LINES: the LINES lines of captured/FROM.txt starting at the
# first line matching PATTERN, into captured/FILE.txt (for a short example in prose).
excerpt() {
  local file=$1 from=$2 pattern=$3 lines=$4
  [ -f "$out/$from.txt" ] || return 0
  grep -m1 -A"$((lines - 1))" -E "$pattern" "$out/$from.txt" >"$out/$file.txt" || {
    echo "error: no line matching $pattern in $out/$from.txt" >&2
    exit 1
  }
}

# require FILE PATTERN...: the prose around captured/FILE.txt points at these lines;
# fail (rather than publish a capture that does not show them) when one is missing.
require() {
  local file=$1
  shift
  [ -f "$out/$file.txt" ] || return 0
  for pattern in "$@"; do
    grep -qE -- "$pattern" "$out/$file.txt" || {
      echo "error: $out/$file.txt has no line matching $pattern; run the capture again" >&2
      exit 1
    }
  done
}

# --- what the chapters include -----------------------------------------------------

capture blocking-read blocking-read sequence
excerpt blocking-read-pipe blocking-read 'on the pipe \.\.\.' 4
capture_error blocking-read-enoent blocking-read /nonexistent
capture_trace trace-blocking-read blocking-read 'pipe2|read\([0-9]+, +<unfinished|write\([0-9]+, "hello through a pipe|read resumed>' 6 --delay-ms 300
require trace-blocking-read 'read\([0-9]+, +<unfinished' 'resumed>"hello through a pipe'
capture nonblocking-read nonblocking-read sequence
require nonblocking-read ' 0 EAGAIN, ' 'non-blocking\? false'
excerpt nonblocking-read-file nonblocking-read 'open\(\.\., O_RDONLY \| O_NONBLOCK\)' 6
excerpt nonblocking-read-accept nonblocking-read 'a client connected; accept' 3
capture_trace trace-nonblocking-read nonblocking-read 'F_SETFL|F_GETFL|preadv2|accept|recvfrom' 30 --delay-ms 200 --file-kib 256
require trace-nonblocking-read 'RWF_NOWAIT\) = -1 EAGAIN' 'F_SETFL, O_RDONLY\|O_NONBLOCK' 'accept\(.*EAGAIN' 'recvfrom.*EAGAIN'
excerpt trace-fcntl trace-nonblocking-read 'F_GETFL\) += 0 \(flags O_RDONLY\)' 3

# The chat servers: the scripted chat, a crowd past FD_SETSIZE, and the signal race.
capture select select set
capture select-crowd select 'required:demo listening wait ready crowd_done' --clients 2000
excerpt select-crowd-summary select-crowd '2000 clients connected' 2
require select-crowd-summary 'refused'
capture pselect pselect set
capture pselect-race pselect sequence --show-race
require pselect-race 'slept through the signal' 'EINTR'
capture poll poll set
capture poll-crowd poll 'required:demo listening wait ready crowd_done' --clients 2000
excerpt poll-crowd-summary poll-crowd '2000 clients connected' 2
capture_trace trace-select select 'pselect6' 6
require trace-select 'pselect6\(.*NULL\)' 'left \{'
capture_trace trace-pselect pselect 'pselect6|rt_sigprocmask\(SIG_(UN)?BLOCK, \[INT\]|tgkill|--- SIGINT' 12 --show-race
require trace-pselect 'sigmask=' 'pselect6\(.*NULL\) = 0 \(Timeout\)'
capture_trace trace-poll poll 'poll\(\[.*\], [0-9]+, 400' 6

# libcurl's multi interface, two ways, and the blocking baseline.
capture curl-multi curl-multi set
capture curl-multi-sequential curl-multi set --sequential
capture curl-multi-poll curl-multi set --wait poll
require curl-multi-poll 'curl_multi_wakeup' 'woken by curl_multi_wakeup'
excerpt curl-multi-summary curl-multi '[0-9]+ transfers, .* done in' 2
excerpt curl-multi-sequential-summary curl-multi-sequential '[0-9]+ transfers, .* done in' 2
capture curl-select curl-select set
capture_error curl-select-fd-floor curl-select --fd-floor 1100
require curl-select-fd-floor 'maxfd -1' 'FD_SETSIZE'
excerpt curl-select-maxfd curl-select-fd-floor 'curl_multi_fdset -> maxfd -1' 2
capture_trace trace-curl-multi curl-multi 'poll\(\[.*\], [0-9]+, [1-9][0-9]*( <unfinished|\))' 8
capture_trace trace-curl-select curl-select 'pselect6' 8
require trace-curl-select 'pselect6\(.*NULL\)' 'left \{'

# POSIX AIO.
capture aio-poll-loop aio-poll-loop set
excerpt aio-speedup aio-poll-loop 'measured [0-9.]+x' 3
# A read slower than aio_suspend's 1 s timeout, to show the timeout's -1 EAGAIN.
capture aio-poll-loop-suspend aio-poll-loop set --wait suspend --chunk-ms 300 --inputs 2
require aio-poll-loop-suspend 'aio_suspend = -1 EAGAIN'
excerpt aio-suspend-timeout aio-poll-loop-suspend 'aio_read\(fd [0-9]+, input 2' 5
capture aio-callback aio-callback set
excerpt aio-callback-wait aio-callback 'main now waits on a channel' 2
capture aio-callback-signal aio-callback set --signal
capture aio-cancel aio-cancel set
require aio-cancel 'AIO_CANCELED' 'AIO_NOTCANCELED' 'AIO_ALLDONE' 'aio_return\(B\) = -1'
excerpt aio-cancel-running aio-cancel '^3\. Cancel the running request' 8
capture_trace trace-aio-poll-loop aio-poll-loop \
  'clone3|pread64\([0-9]+, +(<unfinished|0x)|ESPIPE|read\([0-9]+, +<unfinished|read resumed>"input|clock_nanosleep' 12
capture_trace trace-aio-callback aio-callback \
  'clone3|pread64\([0-9]+, +(<unfinished|0x)|pread64 resumed|read\([0-9]+, +<unfinished|read resumed>"input' 24
capture_trace trace-aio-cancel aio-cancel \
  'clone3|pread64\([0-9]+, +(<unfinished|0x)|pread64 resumed|read\(3, +<unfinished|read resumed>|write\(4,' 24

# The evidence programs.
capture_evidence

echo "done: $(ls "$out" | wc -l) files in $out" >&2
