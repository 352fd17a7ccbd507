/*
 * The peers' figures as issue 4 quotes them: medians its authors measured on this machine
 * class (2 cores, 24 GiB, virtio disk), each peer built from its own source, images to the
 * page cache without fsync. Reproduced as given and never measured by the bench; the
 * report always labels them as quoted.
 */

export interface PeerPair {
  /** Checkpoint and restart, seconds. */
  ckptS: number;
  restartS: number;
}

export interface PeerRow {
  /** The bench workload it corresponds to. */
  workload: string;
  label: string;
  dmtcpGzip: PeerPair;
  dmtcpNoGzip: PeerPair;
  criu42: PeerPair;
}

const p = (ckptS: number, restartS: number): PeerPair => ({ ckptS, restartS });

export const PEERS: PeerRow[] = [
  { workload: '1gib', label: '1 GiB random', dmtcpGzip: p(27.1, 6.2), dmtcpNoGzip: p(1.65, 0.71), criu42: p(1.36, 0.8) },
  { workload: '4gib', label: '4 GiB random', dmtcpGzip: p(105.6, 24.1), dmtcpNoGzip: p(3.97, 4.05), criu42: p(4.75, 3.34) },
  { workload: 'python', label: 'Python holding 500 MB', dmtcpGzip: p(12.7, 2.6), dmtcpNoGzip: p(1.23, 0.45), criu42: p(0.24, 0.29) },
  { workload: 'threads8', label: '8 threads, small', dmtcpGzip: p(0.55, 0.28), dmtcpNoGzip: p(0.4, 0.22), criu42: p(0.05, 0.04) },
];

export function peerFor(workload: string): PeerRow | null {
  return PEERS.find((r) => r.workload === workload) ?? null;
}

/** The physical limits on this machine class, as text lines. */
export const PHYSICAL_LIMITS = [
  '`dd` of 2 GiB with fsync: about 1.0 s (2.1 GB/s); to the page cache: 0.72 s',
  'cold read of 2 GiB: about 0.8 s',
  'memcpy: about 12 GB/s',
  'fork() of a process holding 1 GiB: 14 ms; holding 4 GiB: 53 ms (with 4 KiB pages the fork alone eats the 50 ms pause budget)',
  'zstd -1 with 2 threads: 0.5 s per GiB',
];

/** What DMTCP's wrappers cost, as the issue measured it. */
export const DMTCP_WRAPPERS = [
  '200k open/close: 8× slower under DMTCP than natively; write(): 1.2× slower',
  'process start-up: 24 ms instead of 2 ms (+22 ms)',
  'every barrier waits about 40 ms on a delayed ACK (the coordinator never sets TCP_NODELAY)',
];
