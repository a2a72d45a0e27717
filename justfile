# aio-lab: one demo per asynchronous-I/O technique. `just` alone lists the recipes.

set shell := ["bash", "-cu"]
set positional-arguments := true

target := env_var_or_default("CARGO_TARGET_DIR", "target")

# List the recipes
default:
    @just --list --unsorted

# Run one demo: `just run select --json` (no NAME, or an unknown one, lists the demos)
# [continue]: after Ctrl-C, just waits for the demo and exits with the demo's own status
# (pselect says goodbye and exits 0) instead of reporting 130 for itself.
[no-exit-message]
[continue]
run NAME="" *ARGS:
    @[ -x "{{target}}/debug/run-demo" ] || echo "first run: compiling (a minute or so; later runs start at once)" >&2
    @cargo demo "$@"

# Run every demo in lecture order, each under a header, stopping at the first failure
[no-exit-message]
demos *ARGS:
    @cargo demo --all "$@"

# List the demos in lecture order
list:
    @cargo demo --list

# Run the whole test suite (the README's test command)
test:
    cargo test --workspace --all-targets

# Formatting and lints, as CI checks them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Everything CI checks: formatting, lints, tests, every demo, the labs' checkers, a 30 s soak
ci: lint test demos labs-verify (soak "--duration" "30s")

# Draw one run of a demo as an SVG timeline and print its path: `just timeline select`, `just timeline pselect --show-race`, `prog --json | just timeline -`
[no-exit-message]
timeline NAME="" *ARGS:
    @cargo run -q -p timeline -- "$@"

# Run a demo under strace, showing only the system calls that demo is about
trace NAME *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    # The calls each demo is about, and whether to follow its threads (strace -f), come
    # from demos.toml; an unknown NAME prints the list.
    calls=$(cargo demo --get "{{NAME}}" trace 2>/dev/null) || { cargo demo "{{NAME}}"; exit 2; }
    follow=""
    [ "$(cargo demo --get "{{NAME}}" threads)" = true ] && follow="-f"
    command -v strace >/dev/null || { echo "error: strace is not installed (apt-get install strace)" >&2; exit 1; }
    cargo build -q --bin "$1"
    shift
    echo "strace $follow -e trace=$calls {{target}}/debug/{{NAME}} $*" >&2
    strace $follow -qq -e trace="$calls" "{{target}}/debug/{{NAME}}" "$@"

# Prove each demo uses its technique: its system calls under strace -f, checked by their arguments
trace-check:
    cargo test -q -p robustness --test trace -- --nocapture

# Run the chat servers and the curl demos under continuous load (default 2 minutes): `just soak --duration 30s`
soak *ARGS:
    @cargo build -q -p select -p pselect -p poll -p epoll -p tokio-chat -p curl-multi -p curl-select -p curl-socket -p soak
    @{{target}}/debug/soak "$@"

# Run a demo under valgrind: memory errors, definite leaks, fds left open at exit (`just valgrind aio-cancel`)
valgrind NAME *ARGS:
    #!/usr/bin/env bash
    set -uo pipefail
    command -v valgrind >/dev/null || { echo "error: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
    cargo build -q --bin "{{NAME}}" || exit 1
    shift
    log=$(mktemp -t "valgrind-{{NAME}}.XXXXXX")
    # Memory errors and definite leaks fail the run. "Possibly lost" does not: glibc's AIO
    # worker threads are still idling when a demo exits, and their thread-local storage
    # is reported that way.
    valgrind --track-fds=yes --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
      --log-file="$log" "{{target}}/debug/{{NAME}}" "$@"
    code=$?
    echo "--- valgrind ($log):"
    grep -E 'ERROR SUMMARY|definitely lost|possibly lost|FILE DESCRIPTORS' "$log" | sed 's/^==[0-9]*== /  /'
    # Fds still open at exit that the demo opened itself (valgrind 3.19 lists them but does
    # not count them as errors): every one not marked "inherited from parent".
    leaked=$(awk '/Open (file descriptor|AF_[A-Z0-9]+ socket)/ { head = $0; getline following;
      if (following !~ /inherited from parent/) print head }' "$log" | sed 's/^==[0-9]*== /  /')
    if [ -n "$leaked" ]; then echo "fds left open by the demo:"; echo "$leaked"; [ "$code" -eq 0 ] && code=98; fi
    exit $code

# Start the local HTTP fixture server on its own (prints its address): `just serve 127.0.0.1:8080`
serve *ARGS:
    @cargo run -q -p offline --bin serve -- "$@"

# Run the benchmarks (`just bench --quick` for a fast smoke run)
bench *ARGS:
    @cargo run -q --release -p bench -- "$@"

# Build the book in docs/ (needs mdbook: cargo install mdbook --locked)
book:
    #!/usr/bin/env bash
    command -v mdbook >/dev/null || { echo "error: mdbook is not installed: cargo install mdbook --locked" >&2; exit 1; }
    mdbook build docs

# Re-capture the demo and evidence output the book shows, into docs/src/captured (`just book-capture evidence`: the evidence only)
book-capture *ARGS:
    docs/capture.sh "$@"

# Mark a lab: `just lab poll-echo` (your starter), `just lab poll-echo --solution`, `just lab poll-echo -- ./a.out`, `--gradescope results.json`
[no-exit-message]
lab NAME="" *ARGS:
    #!/usr/bin/env bash
    set -uo pipefail
    shopt -s nullglob
    dirs=(labs/[0-9][0-9]-"{{NAME}}")
    if [ -z "{{NAME}}" ] || [ ${#dirs[@]} -ne 1 ]; then
      [ -n "{{NAME}}" ] && echo "error: no lab named '{{NAME}}'" >&2
      echo "labs:" >&2
      for d in labs/[0-9][0-9]-*/; do d=${d%/}; echo "  ${d#labs/???}  ($d/README.md)" >&2; done
      exit 2
    fi
    shift
    # just runs recipes from the top folder: a relative program path after `--` is taken
    # from the folder the command was typed in, as the user meant it.
    args=()
    while [ $# -gt 0 ]; do
      args+=("$1"); shift
      # --gradescope FILE, too, is written where the command was typed.
      if [ "${args[-1]}" = "--gradescope" ] && [ $# -gt 0 ]; then
        case "$1" in /*) args+=("$1") ;; *) args+=("{{invocation_directory()}}/$1") ;; esac
        shift; continue
      fi
      if [ "${args[-1]}" = "--" ] && [ $# -gt 0 ]; then
        case "$1" in */*) [ "${1#/}" = "$1" ] && set -- "{{invocation_directory()}}/${1#./}" "${@:2}" ;; esac
        args+=("$@"); break
      fi
    done
    exec cargo run -q -p "{{NAME}}-check" -- "${args[@]}"

# Prove every lab's checker: starters fail, solutions and correct variants pass, each wrong program in solution/mutants fails the check it names (`just labs-verify poll-echo` for one lab)
labs-verify *LABS:
    @labs/verify.sh "$@"

# Mark a class: `just grade poll-echo submissions/ [--out grades.csv]` (one entry per student: a Cargo crate, a folder with a Makefile, or a .c or .py file)
[no-exit-message]
grade LAB SUBMISSIONS *ARGS:
    #!/usr/bin/env bash
    set -uo pipefail
    root="{{justfile_directory()}}"
    target="{{target}}"; case "$target" in /*) ;; *) target="$root/$target" ;; esac
    cargo build -q -p "{{LAB}}-check" || exit 1
    cargo build -q -p lab-marking --bin grade || exit 1
    shift 2
    cd "{{invocation_directory()}}"
    AIO_LAB_ROOT="$root" AIO_LAB_GRADE_TARGET="${AIO_LAB_GRADE_TARGET:-$target/grade}" \
      exec "$target/debug/grade" --checker "$target/debug/{{LAB}}-check" --lab "{{LAB}}" "$@" "{{SUBMISSIONS}}"

# Write the student repository to DIR: no solutions or wrong programs, one fresh commit, the checkers kept
handout DIR:
    @labs/handout.sh "{{invocation_directory()}}" "{{DIR}}"

# The small programs behind the book's claims (docs/evidence): no NAME lists them, `just evidence NAME` builds, runs and prints one, `--all` runs all
[no-exit-message]
evidence *ARGS:
    @cargo build -q -p evidence --bins
    @{{target}}/debug/evidence "$@"

# Per demo, the share of its code lines spent on narration at the call sites (a trend to watch)
narration:
    @cargo run -q -p book-check --bin narration
