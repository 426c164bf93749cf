#!/usr/bin/env bash
# Peak resident memory of `moe-router route` on a large generated corpus.
# Usage: bench/cli-memory.sh [SIZE_MB=2048] [BACKEND=cpu]   (after npm run build)
# Writes the corpus to a temporary directory and removes it afterwards.
set -euo pipefail
SIZE_MB=${1:-2048}
BACKEND=${2:-cpu}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d "${TMPDIR:-/tmp}/moe-mem-XXXXXX")
trap 'rm -rf "$DIR"' EXIT
node -e '
const fs = require("fs");
const [path, mb] = [process.argv[1], Number(process.argv[2])];
let a = 12345;
const rand = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const words = ["the", "Router", "x = f(y);", "naïve", "東京", "🙂", "HTTP/2", "42", "lorem", "ipsum", "QUIET", "a_b_c", "{\"k\": 1}"];
let block = "";
while (block.length < 64 << 20) { const n = Math.floor(rand() * 12); let l = ""; for (let i = 0; i < n; i++) l += (i ? " " : "") + words[Math.floor(rand() * words.length)]; block += l + "\n"; }
const buf = Buffer.from(block);
const fd = fs.openSync(path, "w");
for (let written = 0; written < mb * 1048576; written += buf.length) fs.writeSync(fd, buf);
fs.closeSync(fd);
' "$DIR/corpus.txt" "$SIZE_MB"
ls -l "$DIR/corpus.txt"
/usr/bin/time -v node "$ROOT/dist/cli/main.js" route "$DIR/corpus.txt" --backend "$BACKEND" --out /dev/null --stats "$DIR/stats.json" 2> "$DIR/time.txt" || { cat "$DIR/time.txt"; exit 1; }
grep -E 'Maximum resident|Elapsed' "$DIR/time.txt"
node -e 'const s = require(process.argv[1]); console.log(JSON.stringify({ records: s.recordsIn, bytes: s.bytes, seconds: s.seconds, mbPerSecond: s.mbPerSecond, maxRssMiB: s.maxRssBytes / 1048576, backend: s.backend }))' "$DIR/stats.json"
