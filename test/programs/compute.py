# A Python computation in steps: state in a dict, a list and big ints. Deterministic.
import hashlib
import sys

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 40
table = {}
acc = 1
for i in range(steps):
    h = hashlib.sha256(str(acc).encode())
    for _ in range(100000):
        h = hashlib.sha256(h.digest())
    acc = (acc * 31 + int.from_bytes(h.digest()[:8], "little")) % (1 << 127)
    table[i] = acc
    print(f"step {i} {acc:032x} {len(table)}", flush=True)
sys.exit(5)
