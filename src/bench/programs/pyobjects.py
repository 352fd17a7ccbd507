"""Bench workload "Python holding 500 MB": a Python process whose heap is MB megabytes of
ordinary Python objects, then the same heartbeat loop as the C workloads (heartbeat.h).

The heap is a list of records as an application keeps them: a dict per record with an
int, a str, a float, a list of two short strs and a tuple of floats, plus an index dict
from name to record. Records are added until the process's resident set has grown by MB
megabytes. Everything is derived from the record's number, so each heartbeat checks 16
random records field by field (and through the index) and says "ok" or "BAD record N".

usage: python3 pyobjects.py MB
"""

import random
import sys
import time

PERIOD_S = 0.001
BEAT_NS = 10_000_000


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096


def make(i):
    return {
        'id': i,
        'name': f'record-{i:09d}',
        'score': i * 0.25 + 0.125,
        'tags': [f't{i % 97}', f'g{i % 13}'],
        'vec': (i * 0.5, i * 1.5, -i * 2.0),
    }


def check(rec, index, i):
    return (rec['id'] == i and rec['name'] == f'record-{i:09d}' and rec['score'] == i * 0.25 + 0.125
            and rec['tags'] == [f't{i % 97}', f'g{i % 13}'] and rec['vec'] == (i * 0.5, i * 1.5, -i * 2.0)
            and index[rec['name']] is rec)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) <= 0:
        print('usage: pyobjects.py MB', file=sys.stderr)
        return 2
    goal = rss_bytes() + int(sys.argv[1]) * 1_000_000
    records = []
    index = {}
    while rss_bytes() < goal:
        for i in range(len(records), len(records) + 10_000):
            rec = make(i)
            records.append(rec)
            index[rec['name']] = rec
    print(f'ready {len(records)} records, {rss_bytes()} bytes resident', flush=True)

    pick = random.Random(12345)
    beat = 0
    last = time.monotonic_ns()
    next_beat = last + BEAT_NS
    max_gap = 0
    while True:
        time.sleep(PERIOD_S)
        now = time.monotonic_ns()
        max_gap = max(max_gap, now - last)
        last = now
        if now < next_beat:
            continue
        bad = None
        for _ in range(16):
            i = pick.randrange(len(records))
            if not check(records[i], index, i):
                bad = i
        beat += 1
        status = 'ok' if bad is None else f'BAD record {bad}'
        print(f'beat {beat} {status} gap_us {max_gap // 1000} at_us {time.monotonic_ns() // 1000}', flush=True)
        max_gap = 0
        next_beat = time.monotonic_ns() + BEAT_NS


if __name__ == '__main__':
    sys.exit(main())
