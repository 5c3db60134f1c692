"""Writes the files BENCHMARKS.md times `auditrail import` on, from the test fixtures:
ct100k.json.gz (100,000 CloudTrail records in one Records line) and big.jsonl (20,000 Okta
events). Usage: python3 tools/bench/import_files.py OUT_DIR"""

import gzip
import json
import pathlib
import sys

fixtures = pathlib.Path(__file__).resolve().parents[2] / "server/tests/fixtures/import"
out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
out.mkdir(parents=True, exist_ok=True)

record = json.loads((fixtures / "cloudtrail.json").read_text())["Records"][0]
records = []
for i in range(100_000):
    r = dict(record)
    r["eventID"] = f"e-{i:08d}"
    r["eventTime"] = f"2026-03-{1 + i // 40000:02d}T{(i // 1800) % 24:02d}:{(i // 30) % 60:02d}:{i % 60:02d}Z"
    records.append(r)
with gzip.open(out / "ct100k.json.gz", "wt") as f:
    json.dump({"Records": records}, f)

event = json.loads((fixtures / "okta.jsonl").read_text().splitlines()[0])
with open(out / "big.jsonl", "w") as f:
    for i in range(20_000):
        event["uuid"] = f"u-{i}"
        event["published"] = f"2026-03-01T10:{(i // 60) % 60:02d}:{i % 60:02d}.000Z"
        f.write(json.dumps(event) + "\n")
