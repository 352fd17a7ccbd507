/*
 * Restart planning: from a generation's manifest, the text plan stasis-init executes
 * (native/init/tree.c; docs/architecture.md, "Restart plan"). Everything that can be
 * refused is refused here, with a message that says what to do, before any process
 * exists: the native side checks the plan again, but only as a last line of defence.
 */

import * as path from 'node:path';
import { ManifestProcess, ManifestTerminal, ManifestZombie } from '../ckpt-dir/manifest';
import { ResolvedGeneration } from '../ckpt-dir/resolve';
import { StasisError } from '../errors';
import { ImageMetadata, RegionKind } from '../image/format';

export interface RestartPlan {
  /** The process whose exit status is the computation's. */
  main: number;
  text: string;
}

type Node = (ManifestProcess & { image: string; zombie: false }) | (ManifestZombie & { zombie: true });

/** The id of a shared memory object across images (native/common/broker.h, broker_shm_key). */
export function shmKey(dev: bigint, inode: bigint): bigint {
  return (inode ^ (dev << 48n)) & ((1n << 64n) - 1n);
}

/** Each shared memory object and the most any process maps of it. */
function sharedMemory(images: readonly ImageMetadata[]): Map<bigint, bigint> {
  const sizes = new Map<bigint, bigint>();
  for (const img of images) {
    for (const r of img.regions) {
      if (r.kind !== RegionKind.SHMEM_ANON) continue;
      const key = shmKey(r.dev, r.inode);
      const end = r.fileOffset + (r.end - r.start);
      if (end > (sizes.get(key) ?? 0n)) sizes.set(key, end);
    }
  }
  return sizes;
}

/**
 * Where CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from: the latest reading any process took
 * while it was stopped (so that no process sees its clock go back), or none from images of
 * agents that did not record them.
 */
function clocks(images: readonly ImageMetadata[]): string[] {
  let mono = -1n;
  let boot = -1n;
  for (const img of images) {
    if (!img.procState) continue;
    if (img.procState.monotonicNs > mono) mono = img.procState.monotonicNs;
    if (img.procState.boottimeNs > boot) boot = img.procState.boottimeNs;
  }
  return mono > 0n && boot > 0n ? [`clocks ${mono} ${boot}`] : [];
}

/** `images`: the generation's images, parsed, for what the plan needs of them. */
export function planRestart(gen: ResolvedGeneration, images: readonly ImageMetadata[] = []): RestartPlan {
  const shm = [...sharedMemory(images)].map(([key, size]) => `shm ${key} ${size}`).concat(clocks(images));
  const m = gen.manifest;
  const procs = gen.images.map(({ process: p, path }) => ({ ...p, image: path, zombie: false as const }));
  const nodes: Node[] = [...procs, ...m.zombies.map((z) => ({ ...z, zombie: true as const }))];
  if (!m.namespace) {
    if (procs.length !== 1) {
      throw new StasisError('NOT_SUPPORTED', `${gen.path} holds ${procs.length} processes that were not launched in their own namespace — restart needs a checkpoint taken under \`stasis launch\``);
    }
    // A lone process: it becomes init's child, in init's session, leading its own group.
    const p = procs[0]!;
    return { main: p.pid, text: [`stasis-plan 1`, `main ${p.pid}`, `proc ${p.pid} 1 ${p.pid} 1 ${checkPath(p.image)}`, ...shm, ''].join('\n') };
  }
  const byPid = new Map<number, Node>(nodes.map((n) => [n.pid, n]));
  const bad = (what: string): StasisError => new StasisError('BAD_MANIFEST', `${gen.path}: ${what} — restart from an earlier generation`);
  /* Sessions whose leader exited, with orphans of init in them (a double-fork daemon's):
   * stasis-init recreates each with a helper of the leader's old PID. */
  const helpers = new Set<number>();
  for (const n of nodes) {
    if (n.pid < 2) throw bad(`process ${n.pid} cannot be restored (PID 1 is stasis-init's)`);
    const parent = n.ppid === 1 ? null : byPid.get(n.ppid);
    if (n.ppid !== 1 && (!parent || parent.zombie)) throw bad(`the parent ${n.ppid} of process ${n.pid} is not in the generation`);
    const inherited = parent ? parent.sid : 1;
    if (n.sid !== n.pid && n.sid !== inherited) {
      if (n.ppid !== 1 || byPid.has(n.sid) || n.sid < 2) {
        throw new StasisError('NOT_SUPPORTED', `process ${n.pid} is in session ${n.sid}, which neither it nor its parent is in: restoring such a session is not supported yet`);
      }
      helpers.add(n.sid);
    }
  }
  /* Groups whose leader exited: a helper with the group's id, made by the session's leader. */
  const groups = new Map<number, number>();
  for (const n of nodes) {
    if (n.pgid === 1 || byPid.has(n.pgid) || (helpers.has(n.pgid) && n.sid === n.pgid)) continue;
    const leader = byPid.get(n.sid);
    const sessionMaker = n.sid === 1 || helpers.has(n.sid) || (leader !== undefined && !leader.zombie && leader.sid === leader.pid);
    if (!sessionMaker || (groups.has(n.pgid) && groups.get(n.pgid) !== n.sid)) {
      throw new StasisError('NOT_SUPPORTED', `process ${n.pid} is in process group ${n.pgid}, whose leader has exited, in a session with no leader to remake it: not supported yet`);
    }
    groups.set(n.pgid, n.sid);
  }
  // The main process is the one stasis-init started: its child with the lowest PID.
  const roots = procs.filter((p) => p.ppid === 1).sort((a, b) => a.pid - b.pid);
  if (roots.length === 0) throw bad('no process is a child of the namespace\'s init');
  const main = roots[0]!.pid;
  const lines = ['stasis-plan 1', `main ${main}`];
  for (const sid of [...helpers].sort((a, b) => a - b)) lines.push(`session ${sid}`);
  for (const [pgid, sid] of [...groups].sort((a, b) => a[0] - b[0])) lines.push(`group ${pgid} ${sid}`);
  for (const n of nodes.sort((a, b) => a.pid - b.pid)) {
    lines.push(n.zombie ? `zombie ${n.pid} ${n.ppid} ${n.pgid} ${n.sid} ${n.status}` : `proc ${n.pid} ${n.ppid} ${n.pgid} ${n.sid} ${checkPath(n.image)}`);
  }
  for (const s of m.semaphores) lines.push(`sem ${s.id} ${s.key} ${s.mode} ${s.uid} ${s.gid} ${s.values.join(' ')}`);
  for (const g of m.sharedSegments) lines.push(`shmseg ${g.id} ${g.key} ${g.mode} ${g.uid} ${g.gid} ${g.size}`);
  for (const q of m.messageQueues) lines.push(`msgq ${q.id} ${q.key} ${q.mode} ${q.uid} ${q.gid} ${q.qbytes} ${q.messages} ${q.bytes}`);
  if (m.sysvData !== undefined) lines.push(`sysvdata ${checkPath(path.join(gen.path, m.sysvData))}`);
  for (const t of m.terminals) {
    checkTerminal(t, byPid);
    lines.push(`ctty ${t.pty} ${t.sid} ${t.foreground} ${t.pids.join(' ')}`);
  }
  lines.push(...shm);
  return { main, text: lines.join('\n') + '\n' };
}

/*
 * A controlling terminal is given back by its session's leader (TIOCSCTTY) before it forks
 * anyone; the rest of the session inherits it, and those that did not have it let it go
 * (TIOCNOTTY) once their own children are made. So its leader must be one that has it.
 */
function checkTerminal(t: ManifestTerminal, byPid: Map<number, Node>): void {
  const leader = byPid.get(t.sid);
  if (!leader || leader.zombie || leader.sid !== leader.pid || !t.pids.includes(t.sid)) {
    throw new StasisError('BAD_MANIFEST', `pty ${t.pty} is the controlling terminal of session ${t.sid}, whose leader does not have it — restart from an earlier generation`);
  }
  for (const pid of t.pids) {
    const n = byPid.get(pid);
    if (!n || n.zombie || n.sid !== t.sid) {
      throw new StasisError('BAD_MANIFEST', `pty ${t.pty} is the controlling terminal of process ${pid}, which is not a live process of session ${t.sid} — restart from an earlier generation`);
    }
  }
}

function checkPath(p: string): string {
  if (p.includes('\n')) throw new StasisError('BAD_MANIFEST', `image path ${JSON.stringify(p)} holds a newline — move the checkpoint directory`);
  return p;
}
