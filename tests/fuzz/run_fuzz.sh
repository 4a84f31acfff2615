#!/bin/sh
# Run one libFuzzer target briefly: new inputs go to a scratch corpus, the seeds stay untouched.
# usage: run_fuzz.sh BINARY SEED_DIR WORK_DIR SECONDS
set -eu
bin=$1 seeds=$2 work=$3 secs=$4
rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds"
