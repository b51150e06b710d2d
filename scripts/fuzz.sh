#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset: clang-15, ASan + UBSan) and
# runs each for a bounded time, starting from its seed corpus
# (tests/fuzz/corpus/NAME) and the inputs earlier runs found
# (tests/fuzz/regressions/NAME). Fails on any crash, leak, timeout or
# sanitizer report, naming the input that caused it. docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
# A fixed seed makes a run repeatable (CI's, and a failure's); set
# GRIDTREE_FUZZ_SEED=0 for a random one when exploring.
seed="${GRIDTREE_FUZZ_SEED:-1}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image geojson wkt wal track_csv http rpc)

scripts/install-deps.sh --fuzz
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
for t in "${targets[@]}"; do
  bin="build/fuzz/tests/fuzz/gridtree_fuzz_$t"
  work="build/fuzz/corpus/$t"
  artifacts="build/fuzz/artifacts/$t/"
  mkdir -p "$work" "$artifacts"
  dirs=("$work" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  echo "fuzz: $t for ${seconds}s" >&2
  if ! "$bin" -seed="$seed" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$artifacts" "${dirs[@]}" > "build/fuzz/$t.log" 2>&1; then
    failed+=("$t")
    tail -n 60 "build/fuzz/$t.log" >&2
    echo "fuzz: $t FAILED; the input is in $artifacts (add it to tests/fuzz/regressions/$t/ with a test)" >&2
  else
    grep -E '^stat::(number_of_executed_units|new_units_added)' "build/fuzz/$t.log" | tr '\n' ' ' >&2
    echo >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no finding" >&2
