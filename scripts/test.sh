#!/usr/bin/env bash
# The one test command: installs what the tests need, type-checks, runs every tap test,
# and ends with a plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
# The DNS UDP batch addon, when npm install ran before build-essential was there.
[ -f dns/native/build/Release/udp_batch.node ] || node dns/native/build.ts
# The mesh addon (the node proxy's data path), likewise.
[ -f mesh/native/build/Release/mesh.node ] || node mesh/native/build.ts
# The container mount helper, likewise.
[ -x src/kubelet/runtime/native/build/weft-mounts ] || node src/kubelet/runtime/native/build.ts
echo "# tsc --noEmit"
if ! tsc --noEmit; then echo "0 passed, 1 failed"; exit 1; fi
# tap compiles its plugin set from package.json's "tap.plugin" on first use; a fresh
# checkout must build it before the first run, or the tests load the default plugins
# (whose TypeScript loader does not work with TypeScript 7: Node strips the types itself).
tap build >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
# Every test process (and every weft process a test starts) shares one compile cache: a module
# is stripped of its types once, not once per test file (~0.5 s of CPU per file).
export NODE_COMPILE_CACHE=${NODE_COMPILE_CACHE:-$PWD/node_modules/.cache/weft-compile}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# scripts/run-tests.ts runs the tap test files in parallel (package.json's tap.jobs), longest first.
node scripts/run-tests.ts "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# What failed, where the end of a long log shows it.
awk '/^# Subtest: /{file=$3} /^ *not ok / && match($0, /^ */) && RLENGTH <= 8 {sub(/^ +/, ""); print "# failed: " file ": " $0}' "$log" | head -40
# Count each file's direct test points (subtests and assertions at the first nesting level).
passed=$(grep -acE '^    ok [0-9]+' "$log")
failed=$(grep -acE '^    not ok [0-9]+' "$log")
# A file that crashed before reporting anything shows only as a failed top-level point.
crashed=$(grep -aE '^not ok [0-9]+' "$log" | wc -l)
if [ "$failed" -eq 0 ] && [ "$crashed" -gt 0 ]; then failed=$crashed; fi
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
exit "$status"
