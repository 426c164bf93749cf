#!/usr/bin/env bash
# Peak resident memory of `moe-router route` for the options that hold memory per record:
# the default, --threads 1, --include-text, --batch-bytes 1K and 256M, --shards with a wide CSV
# column, the GPU path. One generated corpus per shape, in a temporary directory removed
# afterwards. Usage: bench/memory-matrix.sh [SIZE_MB=512]   (after npm run build)
# Prints a markdown table (the README's memory table comes from it).
set -euo pipefail
SIZE_MB=${1:-512}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLI="$ROOT/dist/cli/main.js"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/moe-mem-XXXXXX")
trap 'rm -rf "$DIR"' EXIT

# short mixed lines (about 40 B), and a CSV whose rows carry a 10 KB second column
node -e '
const fs = require("fs");
const [dir, mb] = [process.argv[1], Number(process.argv[2])];
let a = 12345;
const rand = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const words = ["the", "Router", "x = f(y);", "naïve", "東京", "🙂", "HTTP/2", "42", "lorem", "ipsum", "QUIET", "a_b_c"];
const line = () => { const n = 1 + Math.floor(rand() * 10); let l = ""; for (let i = 0; i < n; i++) l += (i ? " " : "") + words[Math.floor(rand() * words.length)]; return l; };
const fill = (path, block) => { const buf = Buffer.from(block); const fd = fs.openSync(path, "w"); for (let w = 0; w < mb * 1048576; w += buf.length) fs.writeSync(fd, buf); fs.closeSync(fd); };
let lines = ""; while (lines.length < 32 << 20) lines += line() + "\n";
fill(dir + "/lines.txt", lines);
let csv = "text,blob\n"; const blob = "b".repeat(10000); while (csv.length < 32 << 20) csv += line() + "," + blob + "\n";
fill(dir + "/wide.csv", csv);
' "$DIR" "$SIZE_MB"

run() { # label, args...
  local label=$1; shift
  /usr/bin/time -f '%M %e' -o "$DIR/time" node "$CLI" route "$@" --out /dev/null -q || { echo "failed: $label" >&2; exit 1; }
  read -r kb secs < "$DIR/time"
  printf '| %s | `%s` | %s MiB | %s s |\n' "$label" "${*#$DIR/}" "$(awk -v kb="$kb" 'BEGIN { printf "%.0f", kb / 1024 }')" "$secs"
}

echo "| run | arguments | peak RSS | time |"
echo "| --- | --- | --- | --- |"
run "default (auto: CPU, workers)" "$DIR/lines.txt"
run "--threads 1" "$DIR/lines.txt" --threads 1
run "--include-text" "$DIR/lines.txt" --include-text
run "--batch-bytes 1K" "$DIR/lines.txt" --batch-bytes 1K
run "--batch-bytes 256M" "$DIR/lines.txt" --batch-bytes 256M
run "csv with a 10 KB column" "$DIR/wide.csv" --backend cpu
run "csv with a 10 KB column, --shards" "$DIR/wide.csv" --backend cpu --shards "$DIR/shards"
run "--backend gpu (software adapter)" "$DIR/lines.txt" --backend gpu
