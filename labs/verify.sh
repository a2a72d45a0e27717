#!/usr/bin/env bash
# Proves every lab's checker (`just labs-verify [LAB...]`):
#   - the starter fails it, the reference solutions (Rust, and C) pass it;
#   - every program in solution/passing/ (a correct variant: a choice the README leaves
#     free) passes it, and then passes the checks its `checks:` line names as many
#     times as its `runs:` line says;
#   - every program in solution/mutants/ (a wrong submission) fails, and fails the very
#     check its `caught-by:` line names (a mutant that passes, or fails only for some
#     other reason, fails the verification).
# A program there is a `.patch` to the C reference in solution/c/ (applied to a copy,
# built with its Makefile), a `.c` file (built with cc), or a `.py` file (run with
# python3). Its first lines say what it breaks; `warm-up: N` has it marked N times
# before the marking that must fail (for a program that remembers earlier runs).
set -uo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target=$PWD/$target ;; esac
work=$target/labs-verify
jobs=${LABS_VERIFY_JOBS:-3}
started=$SECONDS
failed=()
log() { printf '%s\n' "$*"; }

# The field `key:` from a mutant's header (the lines before its first blank line).
header() { awk -v key="$2:" 'NF == 0 { exit } $1 == key { $1 = ""; sub(/^ /, ""); print; exit }' "$1"; }

# Builds mutant or variant $1 of lab folder $2 into $3; prints the command to run.
build_program() {
  local file=$1 dir=$2 out=$3
  rm -rf "$out" && mkdir -p "$out"
  case "$file" in
    *.patch)
      cp -r "$dir/solution/c/." "$out/src"
      patch -s -p1 -d "$out/src" <"$file" >"$out/build.log" 2>&1 &&
        make -s -C "$out/src" OUT="$out/prog" CFLAGS="-std=c11 -Wall -O2 -D_GNU_SOURCE" >>"$out/build.log" 2>&1 &&
        echo "$out/prog" ;;
    *.c)
      cc -std=c11 -O2 -D_GNU_SOURCE -o "$out/prog" "$file" -lcurl -lrt -lpthread >"$out/build.log" 2>&1 &&
        echo "$out/prog" ;;
    *.py) echo "python3 $(realpath "$file")" ;;
    *) echo "unknown kind of program: $file" >"$out/build.log"; return 1 ;;
  esac
}

# Marks mutant $1 of lab $2 (folder $3): prints one verdict line; exit 0 if caught.
verify_mutant() {
  local file=$1 name=$2 dir=$3 m prog caught report check miss=()
  m=$(basename "${file%.*}")
  caught=$(header "$file" caught-by)
  if [ -z "$caught" ]; then log "BAD  $name mutant $m: no caught-by: line"; return 1; fi
  if ! prog=$(build_program "$file" "$dir" "$work/$name/mutants/$m"); then
    log "BAD  $name mutant $m: did not build ($(tail -n 3 "$work/$name/mutants/$m/build.log" | tr '\n' ' '))"; return 1
  fi
  # `warm-up: N`: marked N times first (a program that remembers earlier markings).
  for ((i = 0; i < $(header "$file" warm-up || true) + 0; i++)); do
    # shellcheck disable=SC2086
    "$target/debug/$name-check" --only "$caught" -- $prog >/dev/null 2>&1
  done
  # shellcheck disable=SC2086 # $prog may be "python3 FILE"
  report=$("$target/debug/$name-check" --only "$caught" -- $prog 2>&1)
  for check in ${caught//,/ }; do
    grep -q "^FAIL $check (" <<<"$report" || miss+=("$check")
  done
  if [ ${#miss[@]} -gt 0 ]; then
    log "BAD  $name mutant $m: ${miss[*]} did not catch it:"; grep -E '^(PASS|FAIL)' <<<"$report" | sed 's/^/       /'
    return 1
  fi
  log "ok   $name mutant $m: caught by $caught: $(grep -m1 '^FAIL' <<<"$report" | cut -c1-160)"
}

for tool in patch make cc; do
  command -v "$tool" >/dev/null || { echo "error: labs-verify needs $tool (apt-get install patch make gcc)" >&2; exit 1; }
done

labs=("$@")
[ ${#labs[@]} -eq 0 ] && for d in labs/[0-9][0-9]-*/; do d=${d%/}; labs+=("${d#labs/???}"); done
for name in "${labs[@]}"; do
  dirs=(labs/[0-9][0-9]-"$name"); dir=${dirs[0]}
  [ -d "$dir" ] || { failed+=("$name: no such lab"); continue; }
  lab_started=$SECONDS
  cargo build -q -p "$name-check" -p "$name" -p "$name-solution" || { failed+=("$name: build"); continue; }
  check=$target/debug/$name-check
  log "=== $name: the starter must fail"
  mkdir -p "$work/$name"
  if "$check" --starter >"$work/$name/starter.log" 2>&1; then failed+=("$name: the starter passed"); fi
  tail -n 1 "$work/$name/starter.log"
  log "=== $name: the solution must pass"
  report=$("$check" --solution 2>&1) || { grep '^FAIL' <<<"$report"; failed+=("$name: the solution failed"); }
  tail -n 1 <<<"$report"
  if [ -f "$dir/solution/c/Makefile" ]; then
    log "=== $name: the C solution must pass"
    mkdir -p "$work/$name"
    if make -s -C "$dir/solution/c" OUT="$work/$name/c-solution"; then
      report=$("$check" -- "$work/$name/c-solution" 2>&1) || { grep '^FAIL' <<<"$report"; failed+=("$name: the C solution failed"); }
      tail -n 1 <<<"$report"
    else
      failed+=("$name: the C solution did not build")
    fi
  fi
  for file in "$dir"/solution/passing/*; do
    [ -f "$file" ] || continue
    v=$(basename "${file%.*}"); runs=$(header "$file" runs); runs=${runs:-1}; only=$(header "$file" checks)
    log "=== $name: correct variant $v must pass: once in full${only:+, then $only $runs times}"
    if ! prog=$(build_program "$file" "$dir" "$work/$name/passing/$v"); then
      failed+=("$name: variant $v did not build"); continue
    fi
    # shellcheck disable=SC2086
    report=$("$check" -- $prog 2>&1) || { grep '^FAIL' <<<"$report"; failed+=("$name: correct variant $v failed"); }
    passes=0
    [ -n "$only" ] || runs=0
    for ((i = 1; i <= runs; i++)); do
      # shellcheck disable=SC2086
      if report=$("$check" --only "$only" -- $prog 2>&1); then passes=$((passes + 1)); else grep '^FAIL' <<<"$report"; fi
    done
    [ "$runs" -eq 0 ] || log "$v: passed $passes of $runs runs of $only"
    [ "$passes" -eq "$runs" ] || failed+=("$name: correct variant $v failed $((runs - passes)) of $runs runs")
  done
  mutants=("$dir"/solution/mutants/*)
  if [ ! -f "${mutants[0]}" ]; then
    failed+=("$name: no mutants in $dir/solution/mutants")
  else
    log "=== $name: ${#mutants[@]} wrong programs must each fail the check named in them ($jobs at a time)"
    results=$work/$name/mutants.log
    mkdir -p "$work/$name" && : >"$results"
    for file in "${mutants[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
      verify_mutant "$file" "$name" "$dir" >>"$results" &
    done
    wait
    cat "$results"
    while read -r line; do failed+=("${line#BAD  }"); done < <(grep '^BAD' "$results")
    [ "${#mutants[@]}" -ge 6 ] || failed+=("$name: only ${#mutants[@]} mutants (at least 6 wanted)")
  fi
  log "=== $name: $((SECONDS - lab_started)) s"
done
if [ ${#failed[@]} -gt 0 ]; then printf 'labs-verify FAILED: %s\n' "${failed[@]}" >&2; exit 1; fi
log "labs-verify: every starter fails, every solution and correct variant passes, every mutant is caught by its check ($((SECONDS - started)) s)"
