#!/usr/bin/env bash
# Runs the seeded fuzz suites (test/**/*.fuzz.test.ts) longer than CI does.
#   npm run fuzz                                  100,000 cases per suite, seed 1
#   npm run fuzz -- --iterations 1000000 --seed 7 [test/dns/server.fuzz.test.ts …]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=100000
seed=1
files=()
while [ $# -gt 0 ]; do
  case $1 in
    --iterations) iterations=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h|--help) sed -n 2,4p "$0"; exit 0 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(find test -name '*.fuzz.test.ts' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no fuzz suites found" >&2; exit 1; }
tap build >/dev/null
WEFT_FUZZ_ITERATIONS=$iterations WEFT_FUZZ_SEED=$seed exec tap --timeout 0 --reporter=terse "${files[@]}"
