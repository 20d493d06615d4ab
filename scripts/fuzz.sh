#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS]: build every libFuzzer harness in test/fuzz/
# (test/fuzz/*_fuzz.c, each with the pure-C sources it names in a
# "// sources:" line) with clang, ASan and UBSan, and run each for SECONDS
# (default 15) from its seed corpus.  make test runs it briefly; run it longer
# by hand: scripts/fuzz.sh 600
#
# SANITIZE=1 (the default) builds with -fsanitize=fuzzer,address,undefined
# -fno-sanitize-recover=all, so any ASan or UBSan report stops the run and
# fails it; SANITIZE=0 builds with -fsanitize=fuzzer alone, several times
# faster per input, for long runs that look for crashes and hangs only.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
if [ "${SANITIZE:-1}" = 1 ]; then
    sanflags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
    sanflags=(-fsanitize=fuzzer)
fi
status=0
for h in test/fuzz/*_fuzz.c; do
    [ -e "$h" ] || continue
    name=$(basename "$h" .c)
    srcs=$(sed -n 's#^// sources: *##p' "$h")
    bin=test/fuzz/$name
    clang -g -O1 "${sanflags[@]}" \
        -Isrc -o "$bin" "$h" $srcs $(sed -n 's#^// libs: *##p' "$h")
    corpus=$(mktemp -d)
    [ -d "test/fuzz/seeds/$name" ] && cp "test/fuzz/seeds/$name"/* "$corpus"/ 2>/dev/null || true
    echo "fuzzing $name for ${seconds}s"
    if ! "$bin" -max_total_time="$seconds" -print_final_stats=0 "$corpus" 2> "$corpus.log"; then
        tail -40 "$corpus.log"; status=1
    else
        grep -E '^#[0-9]+.*DONE' "$corpus.log" | tail -1 || true
    fi
    rm -rf "$corpus" "$corpus.log"
done
exit $status
