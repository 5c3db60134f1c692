"""FTS5 prefix queries with and without a prefix index, on FTS5 alone (BENCHMARKS.md).

Usage: python3 tools/bench/fts_prefix.py ROWS [PREFIX_LENGTHS]   e.g. 1000000 "2 3 4"

One contentless FTS5 table of two columns, as Auditrail's keyword index; each row holds 14
words drawn from 3,020, and one word ("campaign") is in a third of all rows, as in the demo.
Prints the insert rate (1,000 rows a transaction), the file's size, and the median of nine
runs of the list's query shape for a few prefixes and one whole word.
"""

import os
import random
import sqlite3
import sys
import tempfile
import time

ROWS = int(sys.argv[1])
PREFIX = sys.argv[2] if len(sys.argv) > 2 else ""
VOCAB = ["campus", "camping", "camera", "quota", "login", "session", "invoice", "export"] + [
    "w%05d" % i for i in range(3012)
]

random.seed(1)
path = os.path.join(tempfile.mkdtemp(), "fts.db")
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode=WAL")
option = ", prefix='%s'" % PREFIX if PREFIX else ""
db.execute("CREATE VIRTUAL TABLE t USING fts5(description, details, content=''%s)" % option)

started = time.time()
for batch in range(ROWS // 1000):
    rows = []
    for i in range(1000):
        rowid = batch * 1000 + i + 1
        words = [random.choice(VOCAB) for _ in range(8)]
        if rowid % 3 == 0:
            words.append("campaign")
        details = " ".join(random.choice(VOCAB) for _ in range(6))
        rows.append((rowid, " ".join(words), details))
    db.executemany("INSERT INTO t(rowid, description, details) VALUES (?, ?, ?)", rows)
    db.commit()
rate = ROWS / (time.time() - started)


def median_ms(match):
    times = []
    for _ in range(9):
        start = time.time()
        db.execute(
            "SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid DESC LIMIT 51", (match,)
        ).fetchall()
        times.append(time.time() - start)
    return sorted(times)[4] * 1000


figures = "  ".join(f"{m}={median_ms(m):.2f}ms" for m in ["camp*", "ca*", "campa*", "quota"])
size = os.path.getsize(path) / 1e6
print(f"prefix={PREFIX or 'none'} rows={ROWS} inserts/s={rate:.0f} size={size:.0f}MB  {figures}")
