/*
 * The measurements for one workload under Stasis.
 *
 * Checkpoints: the workload is launched once and checkpointed `reps` times. Right after
 * each checkpoint, dd copies the new image into the same directory with fsync: the same
 * bytes, from the page cache to the same disk, seconds apart, so the ratio is paired.
 *
 * Both halves of a pair must find the machine in the same state, and on a VM that is not
 * only the disk. A write into the page cache is fast when the kernel reuses pages it
 * freed moments ago, and several times slower when it takes pages it has not touched for a
 * while: most likely a ballooned VM (free page reporting) has handed those back to the
 * host, and each first touch is then a fault in the host. Measured on the 2-core Firecracker VM this was
 * written on: 1 GiB into the page cache in 2.7 s on such pages, 0.35-0.45 s right after a
 * 1 GiB file was deleted. So before each half the bench deletes a cached, fsynced file of
 * about the image's size (a scratch file before the checkpoint, the previous dd copy
 * before dd), and both run on recycled memory, as on a machine without a balloon.
 *
 * Restarts: the launched process is killed, then the latest generation is restarted
 * `reps` times cold (the image's pages dropped from the page cache first) and `reps` times
 * warm (image fully cached), alternating. Restart time is from spawning `stasis restart`
 * to the first heartbeat line the restored process prints.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveGeneration } from '../ckpt-dir/resolve';
import { StasisError } from '../errors';
import { cachedFraction, ddCopies, dropFromCache, removeAll, residentBytes, writeScratch } from './machine';
import { Line, LiveProcess } from './proc';
import { StasisDriver } from './stasis-driver';
import { Workload } from './workloads';

export interface CheckpointSample {
  wallS: number;
  coordS: number;
  ddS: number;
  /** wallS / ddS of this pair. */
  ratio: number;
  imageBytes: number;
  /** How much of the image was in the page cache when dd read it. */
  ddSourceCached: number | null;
}

export interface RestartSample {
  cache: 'cold' | 'warm';
  seconds: number;
  /** Page-cache residency of the image just before the restart. */
  cached: number | null;
}

export interface WorkloadResult {
  workload: Workload;
  residentBytes: number | null;
  /** From spawning `stasis launch` to the "ready" line: mostly the fill's page faults. */
  setupS: number;
  imageBytesOnDisk: number;
  checkpoints: CheckpointSample[];
  restarts: RestartSample[];
  heartbeatsChecked: number;
}

const GIB = 1024 ** 3;
const BEAT = /^beat \d+ /;
const BEAT_OK = /^beat \d+ ok\b/;

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

/** Watches heartbeats: counts them and remembers the first one that is not "ok". */
class HeartbeatCheck {
  count = 0;
  bad: string | null = null;

  readonly onLine = (l: Line): void => {
    if (!BEAT.test(l.text)) return;
    this.count++;
    if (!BEAT_OK.test(l.text) && this.bad === null) this.bad = l.text;
  };

  assertOk(where: string): void {
    if (this.bad !== null) throw new StasisError('INTERNAL', `${where}: the workload reports damaged state: ${JSON.stringify(this.bad)}`);
  }
}

export async function measureWorkload(
  driver: StasisDriver, w: Workload, program: string, workDir: string, reps: number,
): Promise<WorkloadResult> {
  const ckptDir = path.join(workDir, `ckpt-${w.name}`);
  fs.mkdirSync(ckptDir, { recursive: true });
  const gib = Math.max(1, w.touchedBytes / GIB);
  const ioTimeout = 60000 + gib * 60000;
  const beats = new HeartbeatCheck();
  const result: WorkloadResult = { workload: w, residentBytes: null, setupS: NaN, imageBytesOnDisk: 0, checkpoints: [], restarts: [], heartbeatsChecked: 0 };

  try {
    log(`${w.name}: launching ${path.basename(program)} ${w.args.join(' ')}`);
    const app = driver.launch(w.name, ckptDir, program, w.args, beats.onLine);
    try {
      const ready = await app.waitForLine(/^ready\b/, w.readyTimeoutMs, '"ready" line');
      result.setupS = (ready.at - app.startedAt) / 1000;
      await app.waitForLine(BEAT, 10000, 'first heartbeat');
      const st = await driver.status();
      const pid = (st.processes as { hostPid?: number }[] | undefined)?.[0]?.hostPid || undefined;
      result.residentBytes = pid === undefined ? null : residentBytes(pid);

      // Both halves of every pair start right after a cached file of about the image's size
      // was deleted: the checkpoint after the bench's scratch file, dd after the previous
      // dd copy. See the comment at the top for why.
      const size = result.residentBytes ?? w.touchedBytes;
      let images: string[] = [];
      let lastCopies = [await writeScratch(path.join(ckptDir, 'scratch-0'), size, ioTimeout)];
      try {
        for (let i = 1; i <= reps; i++) {
          removeAll([await writeScratch(path.join(ckptDir, `scratch-${i}`), size, ioTimeout)]);
          const c = await driver.checkpoint(ioTimeout);
          await app.waitForLine(BEAT, 10000, `heartbeat after checkpoint ${i}`);
          images = c.images;
          const ddSourceCached = await cachedFraction(images);
          removeAll(lastCopies);
          const dd = await ddCopies(images, ckptDir, `dd-copy-${i}`, ioTimeout);
          lastCopies = dd.outputs;
          const s: CheckpointSample = { wallS: c.wallS, coordS: c.coordS, ddS: dd.seconds, ratio: c.wallS / dd.seconds, imageBytes: c.bytes, ddSourceCached };
          result.checkpoints.push(s);
          log(`${w.name}: checkpoint ${i}/${reps}: ${s.wallS.toFixed(3)} s (coordinator ${s.coordS.toFixed(3)} s), ` +
            `dd of the same ${fmtMiB(dd.bytes)} ${s.ddS.toFixed(3)} s, ratio ${s.ratio.toFixed(2)}`);
        }
      } finally {
        removeAll(lastCopies);
      }
      beats.assertOk(`${w.name} after checkpointing`);
      result.imageBytesOnDisk = images.reduce((n, f) => n + fs.statSync(f).size, 0);
      await driver.killAndWait(app, 30000);
    } finally {
      app.kill();
    }

    const images = (await resolveGeneration(ckptDir)).images.map((i) => i.path);
    for (let i = 1; i <= reps; i++) {
      for (const cache of ['cold', 'warm'] as const) {
        if (cache === 'cold') await dropFromCache(images);
        const cached = await cachedFraction(images);
        const seconds = await restartOnce(driver, w, ckptDir, beats, ioTimeout);
        result.restarts.push({ cache, seconds, cached });
        log(`${w.name}: restart ${i}/${reps} (${cache}, ${fmtCached(cached)} of the image cached): ${seconds.toFixed(3)} s to the first heartbeat`);
      }
    }
    result.heartbeatsChecked = beats.count;
    return result;
  } finally {
    fs.rmSync(ckptDir, { recursive: true, force: true });
  }
}

async function restartOnce(driver: StasisDriver, w: Workload, ckptDir: string, beats: HeartbeatCheck, timeoutMs: number): Promise<number> {
  const proc: LiveProcess = driver.restart(`${w.name} (restarted)`, ckptDir, beats.onLine);
  try {
    const first = await proc.waitForLine(BEAT, timeoutMs, 'first heartbeat after restart');
    const seconds = (first.at - proc.startedAt) / 1000;
    // A few more beats, each checking its memory, before it is killed.
    for (let k = 0; k < 3; k++) await proc.waitForLine(BEAT, 10000, 'heartbeat after restart');
    beats.assertOk(`${w.name} after restart`);
    await driver.killAndWait(proc, 30000);
    return seconds;
  } finally {
    proc.kill();
  }
}

function fmtMiB(n: number): string {
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

function fmtCached(f: number | null): string {
  return f === null ? 'unknown' : `${Math.round(f * 100)}%`;
}
