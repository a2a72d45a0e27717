#!/usr/bin/env bash
# Writes the student repository (`just handout DIR`): every file git tracks here, but
# not the reference solutions, the correct variants or the wrong programs
# (labs/*/solution/), nor the instructors' notes and tools that need them
# (labs/INSTRUCTORS.md, labs/verify.sh, this script). The checkers stay, so students
# mark their own work with `just lab NAME`. DIR gets a fresh git history of one commit:
# no object in it was ever a solution.
#   labs/handout.sh FROM_DIR DIR     (FROM_DIR: where a relative DIR is taken from)
set -euo pipefail
here=$1 dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
case "$dir" in /*) ;; *) dir="$here/$dir" ;; esac
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
  echo "error: $dir exists and is not empty: hand out into a new folder" >&2
  exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case "$dir/" in "$root"/*) echo "error: $dir is inside this repository: choose a folder outside it" >&2; exit 1 ;; esac

# Tracked files (as they are in the working tree), minus what students must not get.
git -C "$root" ls-files -z |
  grep -zv -E '^labs/[^/]+/solution/|^labs/INSTRUCTORS\.md$|^labs/verify\.sh$|^labs/handout\.sh$' |
  (cd "$root" && tar --null -T - -cf -) | tar -xf - -C "$dir"

# The recipes that need the solutions stay (the book names them) but only say so;
# CI and `just ci` no longer run them.
awk '
  BEGIN { RS = ""; ORS = "\n\n" }
  /(^|\n)labs-verify[ :]/ {
    print "# Needs the instructors\x27 repository (labs/*/solution is not in this handout)\nlabs-verify *LABS:\n    @echo \"error: labs-verify needs the instructors\x27 repository: this handout has no labs/*/solution\" >&2; exit 1"
    next
  }
  /(^|\n)handout[ :]/ {
    print "# Needs the instructors\x27 repository (labs/*/solution is not in this handout)\nhandout DIR:\n    @echo \"error: handout needs the instructors\x27 repository\" >&2; exit 1"
    next
  }
  { print }
' "$dir/justfile" >"$dir/justfile.new"
sed -i 's/^ci: lint test demos labs-verify /ci: lint test demos /' "$dir/justfile.new"
mv "$dir/justfile.new" "$dir/justfile"
if grep -q -e 'labs/verify.sh' -e 'labs/handout.sh' -e '^ci:.*labs-verify' "$dir/justfile"; then
  echo "error: the handout's justfile still runs labs/verify.sh or labs/handout.sh: labs/handout.sh needs updating" >&2
  exit 1
fi
if [ -f "$dir/.ci/run" ]; then
  sed -i '/^step "just labs-verify/,/^just labs-verify$/d' "$dir/.ci/run"
fi

cd "$dir"
git init -q
git add -A
who=()
git config user.name >/dev/null || who+=(-c user.name="aio-lab handout")
git config user.email >/dev/null || who+=(-c user.email="handout@aio-lab.invalid")
git "${who[@]}" commit -q -m "aio-lab: demos and labs (student handout)"
if git ls-files | grep -q '/solution/'; then
  echo "error: a solution file reached the handout" >&2
  exit 1
fi
echo "handout written to $dir: $(git ls-files | wc -l) files, one commit, no solutions"
echo "next: cd $dir && just lab poll-echo     (builds and marks the starter)"
