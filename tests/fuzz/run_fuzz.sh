#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time, seeded by the corpus. Fails on any crash,
# sanitizer report or abort (the target aborts on a broken invariant).
set -euo pipefail
bin=$1 seconds=$2
: "${SEEDS:?}" "${WORK:?}"
rm -rf "$WORK" && mkdir -p "$WORK/corpus" "$WORK/artifacts"
nseeds=$(find "$SEEDS" -name '*.bin' | wc -l)
if ((nseeds == 0)); then echo "no seed corpus under $SEEDS" >&2; exit 1; fi
find "$SEEDS" -name '*.bin' -exec cp {} "$WORK/corpus/" \;
echo "fuzzing $(basename "$bin") for ${seconds}s from $nseeds seeds"
"$bin" -max_total_time="$seconds" -max_len=66560 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$WORK/artifacts/" -print_final_stats=1 "$WORK/corpus"
