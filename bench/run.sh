#!/usr/bin/env bash
# Load + compile benchmark (release build): 10,000 Ingresses, ~30,000 paths over 2,000 hosts in a
# generated Git repository. Prints time and peak RSS; targets are <= 1.0 s and <= 150 MiB.
# Usage: bench/run.sh [--ingresses N] [--hosts N]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/install-deps.sh
swift build -c release --product gitway-bench >/dev/null
bin=.build/release/gitway-bench
out=bench/out
mkdir -p "$out"
"$bin" generate "$out/repo-10k.git" "$@"
"$bin" measure "$out/repo-10k.git" --runs 3
