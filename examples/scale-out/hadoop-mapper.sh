#!/usr/bin/env bash
# Hadoop Streaming mapper: routes this task's input split (jsonl on stdin) and writes
# "<input line><TAB><routing JSON>" per record, in order, so every routing carries its record
# (and the record its id): moe-router's own index counts within the split, so it is zipped here.
# Counters (records-in, records-out, expert-K, ...) go to stderr, where Streaming reads them.
# A bad record fails the task (exit 1, message on stderr) before anything is written.
set -euo pipefail
split="$(mktemp)"
routed="$(mktemp)"
trap 'rm -f "$split" "$routed"' EXIT
cat > "$split"
moe-router route "$split" --format jsonl --backend cpu -q --hadoop-counters --out "$routed"
paste "$split" "$routed"
