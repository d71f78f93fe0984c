#!/usr/bin/env bash
# `make demo`: validate the example routing repository and show its route table.
set -euo pipefail
bin=${1:-.build/debug/gitway}
cd "$(dirname "$0")/.."

echo "\$ gitway validate --repo examples-repo --verbose"
"$bin" validate --repo examples-repo --verbose
echo
echo "\$ gitway routes --repo examples-repo"
"$bin" routes --repo examples-repo
echo
echo "Next: gitway routes --repo examples-repo -o json    (the canonical route table)"
