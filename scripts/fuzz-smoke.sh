#!/usr/bin/env bash
# Runs every fuzz target (the [[bin]]s of fuzz/Cargo.toml) briefly: FUZZ_SECONDS each (20 by default),
# seeded from fuzz/corpus/<target> when it exists. Fails on any crash, leak, hang (an input
# that takes over FUZZ_TIMEOUT seconds) or excess memory. cargo-fuzz needs a nightly toolchain;
# without one this says fuzzing was skipped and succeeds.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
timeout="${FUZZ_TIMEOUT:-10}"

# Never let rustup fetch a toolchain for the probe: no nightly means no fuzzing.
if ! RUSTUP_AUTO_INSTALL=0 cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz-smoke: no nightly toolchain (cargo +nightly), fuzzing skipped"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd fuzz
# The same options for the build and every run, so the runs reuse the build. More codegen
# units build much faster and fuzz a little slower, the right trade for short runs.
opts=(--codegen-units 16)
nice -n 19 cargo +nightly fuzz build "${opts[@]}"

# New inputs go to a scratch corpus, so a developer's fuzz/corpus is read but never changed.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# One target: its output goes to a log, its outcome to a line in $scratch/<target>.result.
fuzz_one() {
    local target="$1" dirs=("$scratch/$1") log="$scratch/$1.log" runs rate
    mkdir -p "${dirs[0]}"
    if [ -d "corpus/$target" ]; then
        dirs+=("corpus/$target")
    fi
    if nice -n 19 cargo +nightly fuzz run "${opts[@]}" "$target" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
        rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
        echo "ok ${runs:-?} runs, ${rate:-?}/s" >"$scratch/$target.result"
    else
        echo "FAILED" >"$scratch/$target.result"
    fi
}

# Each fuzzer is one process: run as many at once as there are cores to spare.
parallel="${FUZZ_JOBS:-2}"
# The declared targets, not every file: fuzz_targets/ also holds code they share.
mapfile -t targets < <(cargo +nightly fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "fuzz-smoke: cargo fuzz list found no targets" >&2
    exit 1
fi
for target in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
        wait -n || true
    done
    fuzz_one "$target" &
done
wait

failed=()
for target in "${targets[@]}"; do
    result="$(cat "$scratch/$target.result" 2>/dev/null || echo FAILED)"
    if [ "${result%% *}" = ok ]; then
        echo "fuzz-smoke: $target: ${result#ok }, no crash"
    else
        echo "fuzz-smoke: $target FAILED:"
        # What went wrong (a panic, a sanitizer or libFuzzer error), then where the input is.
        grep -m 1 -A 4 -E "panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)" \
            "$scratch/$target.log" || true
        grep -E "Test unit written to" "$scratch/$target.log" || tail -n 20 "$scratch/$target.log"
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz-smoke: crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)"
    exit 1
fi
echo "fuzz-smoke: every target ran ${seconds}s without a crash"
