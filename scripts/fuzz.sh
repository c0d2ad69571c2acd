#!/usr/bin/env bash
# Runs the seeded fuzz suites (test/**/*.fuzz.test.ts) longer than CI does.
#   npm run fuzz                                   every suite, 100 times its CI case count, seed 1
#   npm run fuzz -- --scale 1000 --seed 7          1000 times, another seed
#   npm run fuzz -- --iterations 50000 test/dns/server.fuzz.test.ts
set -euo pipefail
cd "$(dirname "$0")/.."
scale=100
iterations=
seed=1
files=()
while [ $# -gt 0 ]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(find test -name '*.fuzz.test.ts' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no fuzz suites found" >&2; exit 1; }
tap build >/dev/null
WEFT_FUZZ_SCALE=$scale WEFT_FUZZ_ITERATIONS=$iterations WEFT_FUZZ_SEED=$seed exec tap --timeout 0 --reporter=terse "${files[@]}"
