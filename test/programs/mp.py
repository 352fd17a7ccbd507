"""Python multiprocessing under checkpoint: a Pool of 2 workers mapping a function over
chunks, and a Queue fed by a Process. Prints one line per finished chunk, in order, and a
checksum at the end; the same in an uninterrupted run. Uses pipes between processes and
POSIX semaphores in shared memory (the pool's and the queue's locks)."""
import hashlib
import multiprocessing as mp
import sys
import time


def work(n):
    h = hashlib.sha256()
    for i in range(n * 200, n * 200 + 200):
        h.update(str(i * i).encode())
    time.sleep(0.02)
    return n, h.hexdigest()[:16]


def feeder(q, count):
    for i in range(count):
        q.put((i, i * i))
        time.sleep(0.01)
    q.put(None)


def main():
    chunks = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    mp.set_start_method("fork")
    q = mp.Queue()
    p = mp.Process(target=feeder, args=(q, chunks))
    p.start()
    total = 0
    with mp.Pool(2) as pool:
        for n, digest in pool.imap(work, range(chunks), chunksize=1):
            print(f"chunk {n} {digest}", flush=True)
            item = q.get()
            total += item[1]
    assert q.get() is None
    p.join()
    print(f"queue sum {total}, feeder exit {p.exitcode}", flush=True)


if __name__ == "__main__":
    main()
