#!/usr/bin/env bash
# Captures the program output the book shows: `just book-capture`.
#
# Runs each demo the way the book says (NO_COLOR set, text output), writes what it
# printed to docs/src/captured/NAME.txt for the chapters to {{#include}}, and writes
# NAME.events: the arguments, the title line and the event names of a --json run of
# the same command. crates/book-check re-runs the demo and compares its events with
# that record, so a capture that no longer matches the code fails `cargo test`.
#
# It also draws the pictures the chapters show beside that output (see "pictures" at the
# end): each from the --json run the .events record was made from, kept as NAME.jsonl.
#
# `docs/capture.sh --pictures` redraws only the pictures: new --json runs of the
# recorded commands, leaving the captured text and records as they are;
# `--redraw` draws them again from the kept runs, running nothing;
# `--only PREFIX` captures (and draws) only the files whose names start with PREFIX,
# such as one chapter's after a change to its demo: `docs/capture.sh --only epoll`.
#
# Demos not in the workspace yet are skipped (their chapters are stubs). Traces need
# strace; without it they are skipped and the old trace files kept.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/src/captured
bin="${CARGO_TARGET_DIR:-target}/debug"
export NO_COLOR=1
only_pictures=false
redraw=false
[ "${1:-}" = --pictures ] && only_pictures=true
# --redraw: the pictures again from the runs kept in captured/*.jsonl (after a change
# to the timeline crate); nothing is run.
[ "${1:-}" = --redraw ] && only_pictures=true && redraw=true
# --only PREFIX: only the captures, excerpts, traces and pictures whose file name starts
# with PREFIX (`docs/capture.sh --only curl-`), for one chapter after a change to its demo.
only=""
[ "${1:-}" = --only ] && only="${2:?--only needs a file name prefix}"
# True when FILE is outside the --only selection.
skipped() { [ -n "$only" ] && [ "${1#"$only"}" = "$1" ]; }
pictures=docs/src/pictures
mkdir -p "$out" "$pictures"
# The --json runs of this capture, until a picture keeps them (see picture below).
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT

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
# --bin, not -p: `-p io-uring` is ambiguous (the demo, and the crates.io crate it uses).
for d in "${demos[@]}"; do present "$d" && build+=(--bin "$d"); done
build+=(--bin timeline)
echo "cargo build -q ${build[*]}" >&2
cargo build -q "${build[@]}"

# capture FILE DEMO COMPARE [ARGS...]: text output to FILE.txt, event record to FILE.events.
# COMPARE is "sequence" for single-threaded demos that always tell their story in the
# same order, "set" for concurrent ones whose events interleave differently each run,
# and "required:NAME NAME..." for runs whose narration itself varies (only those names
# must appear).
capture() {
  local file=$1 demo=$2 compare=$3
  skipped "$file" && return 0
  shift 3
  if ! present "$demo"; then
    echo "skip $file: $demo is not in the workspace" >&2
    return
  fi
  if $only_pictures; then
    # Only the runs a picture is drawn from.
    grep -qE "^picture [^ ]+ $file( |\$)" "$0" || return 0
    $redraw && return 0
    echo "run $file: $demo $* --json" >&2
    "$bin/$demo" "$@" --json >"$runs/$file.jsonl"
    return
  fi
  echo "capture $file: $demo $*" >&2
  {
    echo "\$ just run $demo${*:+ $*}"
    "$bin/$demo" "$@"
  } >"$out/$file.txt.new"
  local json title events
  json=$("$bin/$demo" "$@" --json)
  printf '%s\n' "$json" >"$runs/$file.jsonl"
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
  skipped "$file" && return 0
  shift 2
  present "$demo" || { echo "skip $file: $demo is not in the workspace" >&2; return; }
  $only_pictures && return
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
  skipped "$file" && return 0
  shift 4
  present "$demo" || { echo "skip $file: $demo is not in the workspace" >&2; return; }
  $only_pictures && return
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

# picture NAME FROM [TIMELINE OPTIONS...]: draws the --json run behind captured/FROM
# (the one its .events record was made from) into pictures/NAME.svg with the timeline
# crate, and keeps that run as captured/FROM.jsonl. The SVG carries the run's
# fingerprint; crates/book-check finds the .jsonl it was drawn from by it and checks
# that run against the .events record, so a picture of another run fails `cargo test`.
picture() {
  local name=$1 from=$2
  skipped "$name" && return 0
  shift 2
  if $redraw; then
    [ -f "$out/$from.jsonl" ] || { echo "skip picture $name: no captured/$from.jsonl" >&2; return; }
  elif [ -f "$runs/$from.jsonl" ]; then
    cp "$runs/$from.jsonl" "$out/$from.jsonl"
  else
    echo "skip picture $name: $from was not captured" >&2
    return
  fi
  local demo args
  demo=$(sed -n 's/^demo: //p' "$out/$from.events")
  args=$(sed -n 's/^args: //p' "$out/$from.events")
  echo "picture $name: $from $*" >&2
  "$bin/timeline" --output "$pictures/$name.svg" --command "just run $demo${args:+ $args}" "$@" - \
    <"$out/$from.jsonl" >/dev/null
}

# excerpt FILE FROM PATTERN LINES: the LINES lines of captured/FROM.txt starting at the
# first line matching PATTERN, into captured/FILE.txt (for a short example in prose).
excerpt() {
  local file=$1 from=$2 pattern=$3 lines=$4
  skipped "$file" && return 0
  $only_pictures && return
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
  skipped "$file" && return 0
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

# Beyond the notes: epoll (level, edge, the edge-triggered bug, 10,000 clients) and
# tokio-chat, with the system calls underneath.
capture epoll epoll set
capture epoll-edge epoll set --edge
excerpt epoll-edge-drained epoll-edge 'drained with' 1
capture epoll-et-bug epoll sequence --show-et-bug
require epoll-et-bug 'sit in the socket' 'stranded'
capture epoll-crowd epoll 'required:demo listening wait ready crowd_done' --clients 10000
excerpt epoll-crowd-summary epoll-crowd '10000 clients connected' 1
capture_trace trace-epoll epoll 'epoll_ctl|epoll_wait' 14
require trace-epoll 'EPOLL_CTL_ADD' 'EPOLL_CTL_MOD'
capture_trace trace-epoll-ctl epoll 'epoll_ctl|close\(' 400
excerpt trace-epoll-del trace-epoll-ctl 'EPOLL_CTL_DEL' 2
require trace-epoll-del 'EPOLL_CTL_DEL, ([0-9]+).*' 'close\('
capture tokio-chat tokio-chat set
capture_trace trace-tokio-chat tokio-chat 'epoll_wait|accept4|recvfrom' 16
require trace-tokio-chat 'accept4.*EAGAIN' 'recvfrom.*EAGAIN' 'epoll_wait'

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
# Real files of any size: /proc files say 0 bytes and are read until a read returns 0.
capture aio-poll-loop-files aio-poll-loop set --process-ms 0 /proc/self/status /proc/version
require aio-poll-loop-files 'POSIX_FADV_DONTNEED' 'aio_return\(status, block 2 at offset [0-9]+\) = 0; end of file'
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

# --- pictures: one per captured run a chapter shows, and the comparisons -------------
# The chat servers do forty things in a millisecond and then sleep: their axis has
# breaks (`--axis cut`). Where the story is how long things took, the axis is linear,
# and two pictures that compare share one length (`--axis-ms`).

picture blocking-read blocking-read --axis linear
picture nonblocking-read nonblocking-read --axis linear
picture select select --axis cut
picture pselect pselect --axis cut
# Both halves of --show-race in one picture: select sleeps through the signal, pselect
# (the mask) wakes at once.
picture pselect-race pselect-race --axis cut
picture poll poll --axis cut
picture curl-multi curl-multi --axis-ms 3100
picture curl-multi-sequential curl-multi-sequential --axis-ms 3100
picture curl-multi-poll curl-multi-poll --axis linear
picture curl-select curl-select --axis linear
picture aio-poll-loop-overlap aio-poll-loop --only run=overlap --axis-ms 1700
picture aio-poll-loop-baseline aio-poll-loop --only run=baseline --axis-ms 1700
picture aio-poll-loop-suspend aio-poll-loop-suspend --axis linear
picture aio-poll-loop-files aio-poll-loop-files --axis linear
picture aio-callback aio-callback --axis linear
picture aio-callback-signal aio-callback-signal --axis linear
picture aio-cancel aio-cancel --axis cut
# Beyond the notes. The epoll and tokio chat servers are as busy-then-quiet as the others.
picture epoll epoll --axis cut
picture epoll-et-bug epoll-et-bug --axis cut
picture tokio-chat tokio-chat --axis cut

# Beyond the notes: curl's socket interface on epoll, and io_uring.
capture curl-socket curl-socket set
capture curl-socket-thousand curl-socket 'required:demo rlimit_nofile batch summary open_fds' --transfers 1000
excerpt curl-socket-thousand-summary curl-socket-thousand 'came back 200' 2
capture_trace trace-curl-socket curl-socket 'epoll_wait|epoll_ctl|timerfd_settime' 12
capture io-uring io-uring set
require io-uring 'first data came back in the order 2, 4, 3, 1' 'EALREADY' 'ETIME'
capture_trace trace-io-uring io-uring 'io_uring_setup|io_uring_enter|clone3' 12
picture curl-socket curl-socket --axis linear
# Four parts, with quiet seconds between them (a 64 MiB read, the baseline): cut.
picture io-uring io-uring --axis cut

# The evidence programs.
$only_pictures || [ -n "$only" ] || capture_evidence

echo "done: $(ls "$out" | wc -l) files in $out" >&2
