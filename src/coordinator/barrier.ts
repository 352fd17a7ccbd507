/*
 * One checkpoint, run as barriers across the agents (docs/protocol.md, "A checkpoint"):
 *
 *   SUSPEND all ─▶ SUSPENDED from all ─▶ LIST to each namespace's init ─▶ (a process it
 *   lists has not joined yet? wait for its HELLO, SUSPEND it, LIST again) ─▶ create
 *   generation folder(s) ─▶ WRITE to each, with what it shares (and to the init of a
 *   namespace with SysV message queues or shared memory segments: their data) ─▶
 *   CAPTURED from all (and the inits' WRITTEN) ─▶ RESUME all ─▶ RESUMED (with each pause)
 *   and WRITTEN from all ─▶ commit (manifest with what it depends on, `latest`, prune) ─▶
 *   COMMIT to each (whether its image counts: incremental checkpoints) ─▶ reply
 *
 * CAPTURED is the global barrier of a forked checkpoint: every process's state is in its
 * image or in its writer's copy, and none runs on before all are (they talk to each
 * other). The images are finished by forked writers while the processes run; the
 * generation is committed only once every one is durable.
 *
 * Processes come and go while a checkpoint starts: one that execs or exits before it is
 * captured drops its connection (even after SUSPENDED: a process already exiting can
 * answer it); if its namespace has an init, that is not a failure (the init's list says
 * whether it still exists, and an exec'd program joins again). Once a process is captured
 * it may exit freely: its writer keeps the connection open until the image is done, and a
 * connection that closes before WRITTEN is judged by the image file (complete or not).
 *
 * Transport-agnostic: peers are anything with `send`; the owner feeds agent answers in with
 * `deliver` and disconnects with `peerLost`. The first failure wins (a nonzero status, a
 * lost agent, a timeout, a filesystem error); on failure every still-connected participant
 * gets RESUME — including the one that failed — the generation is not committed and its
 * folder is removed once every participant has answered and every writer is done, so none
 * is still writing into it. Agents answer in their own order (SUSPENDED; CAPTURED if it got
 * WRITE; then RESUMED if it got RESUME and WRITTEN if its capture succeeded, in either
 * order); any other message from a participant is a protocol violation (`deliver` → false).
 */

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { StasisError } from '../errors';
import { generationDeps, GenerationDeps, IncrementalPolicy, WriteMode, writeModeFor } from '../ckpt-dir/deps';
import { commitGeneration, createGeneration, discardGeneration, GenerationEntry } from '../ckpt-dir/generations';
import { Manifest, MANIFEST_FORMAT, MANIFEST_VERSION, ManifestSemaphore, ManifestTerminal, SYSV_DATA_FILE } from '../ckpt-dir/manifest';
import {
  CAPTURED_FORKED, CapturedMessage, COMMIT_COMMITTED, CoordToAgent, JsonObject, LISTED_STATIC, LISTED_ZOMBIE, ListedMessage, ResumedMessage,
  ShareEntry, SuspendedMessage, WrittenMessage,
} from '../protocol/messages';
import { describeStatus } from './errno';
import { Logger, silentLogger } from './log';

/** CLOCK_MONOTONIC now, in µs (process.hrtime reads that clock). */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export type AgentState = 'running' | 'restoring' | 'suspending' | 'suspended' | 'writing' | 'captured' | 'resuming';

export interface BarrierPeer {
  readonly procId: number;
  readonly pid: number;
  readonly name: string;
  readonly ckptDir: string;
  /** Which PID namespace (computation) the process is in; '' when not known. */
  readonly nsKey: string;
  state: AgentState;
  send(msg: CoordToAgent): void;
}

/** The init of one namespace: answers LIST. */
export interface InitPeer {
  readonly nsKey: string;
  send(msg: CoordToAgent): void;
}

export interface GenerationResult {
  ckptDir: string;
  path: string;
  number: number;
  processes: number;
  bytes: number;
}

/** A process whose image was written with its threads stopped, and why. */
export interface NotForked {
  pid: number;
  procId: number;
  name: string;
  reason: string;
}

export interface CheckpointOutcome {
  ckptId: number;
  generations: GenerationResult[];
  durationMs: number;
  bytes: number;
  processes: number;
  /** The longest any process's threads were stopped (ms, 0.1 ms precision). */
  pauseMs: number;
  /**
   * When the coordinator sent SUSPEND and when the last RESUMED arrived, in CLOCK_MONOTONIC
   * microseconds (this host's clock, the one clock_gettime(CLOCK_MONOTONIC) reads): the window
   * every process's pause lies in, for lining the pause up with a program's own timeline.
   */
  pauseWindowUs: [number, number];
  /** How many processes' images forked writers wrote. */
  forked: number;
  notForked: NotForked[];
}

export interface BarrierOptions {
  /** Complete generations to keep per checkpoint directory (at least 1). */
  keep: number;
  /** How long one phase may wait for the slowest agent. */
  phaseTimeoutMs: number;
  /** The init of a namespace, if one is connected. */
  initFor?: (nsKey: string) => InitPeer | undefined;
  /** How long to wait for a listed process that has not joined (default 10 s). */
  joinTimeoutMs?: number;
  /** Incremental checkpoints (ckpt-dir/deps.ts); absent: off. */
  incremental?: IncrementalPolicy;
  /** This checkpoint stores every page (`stasis checkpoint --full`). */
  forceFull?: boolean;
  progress?: (body: JsonObject) => void;
  log?: Logger;
}

type Answer = 'SUSPENDED' | 'CAPTURED' | 'WRITTEN' | 'RESUMED';

/** How soon the init is asked again for its list while a listed process has not joined. */
const RELIST_MS = 20;

interface Participant {
  peer: BarrierPeer;
  lost: boolean;
  sentWrite: boolean;
  sentResume: boolean;
  /** COMMIT was sent (after its writer answered; incremental checkpoints). */
  sentCommit: boolean;
  suspended: boolean;
  /** CAPTURED came; `captureOk` when its status was 0. */
  captured: boolean;
  captureOk: boolean;
  /** A forked writer finishes its image (CAPTURED_FORKED). */
  forked: boolean;
  /** Why it was not forked (CAPTURED.message), when it was not. */
  notForked: string;
  /** Its image is complete and durable (WRITTEN, or found complete after it ended). */
  written: boolean;
  /** It ended after it was captured, before WRITTEN: its image decides. */
  endedEarly: boolean;
  resumed: boolean;
  pauseNs: bigint | null;
  gen: GenerationEntry | null;
  imageName: string;
  bytes: number;
}

export class CheckpointBarrier {
  private readonly parts: Participant[];
  private readonly log: Logger;
  private failure: StasisError | null = null;
  /** Set once the commit starts: losing an agent after that does not undo the checkpoint. */
  private committing = false;
  private waiter: (() => void) | null = null;
  private started = false;
  /** Until WRITE is sent, processes that join are taken in (and suspended). */
  private admitting = true;
  private readonly listed = new Map<string, ListedMessage>();
  /** Namespaces in which a suspended process exited before its image was written. */
  private readonly exitedWhileWriting = new Set<string>();
  private readonly listWaiters = new Map<string, (m: ListedMessage | null) => void>();
  private readonly initWriteWaiters = new Map<string, (m: WrittenMessage | null) => void>();
  /** Namespaces whose init wrote SysV data into a generation (the manifest names it). */
  private readonly sysvWritten = new Set<string>();

  constructor(readonly ckptId: number, peers: readonly BarrierPeer[], private readonly opts: BarrierOptions) {
    this.parts = peers.map((peer) => newParticipant(peer));
    this.log = opts.log ?? silentLogger;
  }

  /** A process joined while this checkpoint runs. Returns true when it takes part. */
  join(peer: BarrierPeer): boolean {
    if (!this.admitting || !this.started || this.failure) return false;
    const p = newParticipant(peer);
    this.parts.push(p);
    peer.state = 'suspending';
    peer.send({ type: 'SUSPEND', ckptId: BigInt(this.ckptId) });
    this.poke();
    return true;
  }

  /** An init's answer to LIST. Returns false when none was asked of it. */
  deliverListed(init: InitPeer, msg: ListedMessage): boolean {
    const w = this.listWaiters.get(init.nsKey);
    if (!w || msg.ckptId !== BigInt(this.ckptId)) return false;
    this.listWaiters.delete(init.nsKey);
    w(msg);
    return true;
  }

  /** An init's answer to WRITE (its namespace's SysV data). Returns false when none was asked of it. */
  deliverInitWritten(init: InitPeer, msg: WrittenMessage): boolean {
    const w = this.initWriteWaiters.get(init.nsKey);
    if (!w || msg.ckptId !== BigInt(this.ckptId)) return false;
    this.initWriteWaiters.delete(init.nsKey);
    w(msg);
    return true;
  }

  /** The init of a namespace went away. */
  initLost(init: InitPeer): void {
    for (const waiters of [this.listWaiters, this.initWriteWaiters] as Map<string, (m: null) => void>[]) {
      const w = waiters.get(init.nsKey);
      if (!w) continue;
      this.fail(new StasisError('AGENT_LOST', `the init of namespace ${init.nsKey} disconnected during the checkpoint — the previous generation is intact`));
      waiters.delete(init.nsKey);
      w(null);
    }
  }

  has(peer: BarrierPeer): boolean {
    return this.find(peer) !== undefined;
  }

  /** Feeds an agent's answer. Returns false when it was not expected from that peer now. */
  deliver(peer: BarrierPeer, msg: SuspendedMessage | CapturedMessage | WrittenMessage | ResumedMessage): boolean {
    const p = this.find(peer);
    if (!p || p.lost || msg.ckptId !== BigInt(this.ckptId) || !this.accepts(p, msg.type)) return false;
    const who = describePeer(peer);
    switch (msg.type) {
      case 'SUSPENDED':
        p.suspended = true;
        if (msg.status !== 0) {
          this.fail(new StasisError('AGENT_FAILED', `${who} could not suspend: ${describeStatus(msg.status)} — see its stderr; the checkpoint was abandoned`));
        } else if (!p.sentResume) {
          peer.state = 'suspended';
        }
        break;
      case 'CAPTURED':
        p.captured = true;
        if (msg.status !== 0) {
          this.fail(new StasisError('AGENT_FAILED', `${who} could not write its image: ${withMessage(msg.message, msg.status)} — the previous generation is intact`));
        } else {
          p.captureOk = true;
          p.forked = (msg.flags & CAPTURED_FORKED) !== 0;
          if (p.forked) {
            this.log(`${who}: captured; its writer (pid ${msg.writerPid}) writes the image`);
          } else {
            p.notForked = msg.message !== '' ? msg.message : 'no reason given';
            this.log(`${who}: checkpointed without forking: ${p.notForked}`);
          }
          if (!p.sentResume) peer.state = 'captured';
        }
        break;
      case 'WRITTEN':
        if (msg.status !== 0) {
          p.captureOk = false;
          this.fail(new StasisError('AGENT_FAILED', `${who} could not write its image: ${withMessage(msg.message, msg.status)} — the previous generation is intact`));
        } else {
          p.written = true;
          p.bytes = Number(msg.imageBytes);
        }
        break;
      case 'RESUMED':
        p.resumed = true;
        p.pauseNs = msg.pauseNs;
        peer.state = 'running';
        break;
    }
    this.poke();
    return true;
  }

  peerLost(peer: BarrierPeer): void {
    const p = this.find(peer);
    if (!p || p.lost) return;
    p.lost = true;
    if (this.admitting && peer.nsKey !== '' && this.opts.initFor?.(peer.nsKey)) {
      // Nothing of it is written yet: whether it exec'd, or was exiting while it was being
      // suspended (its last thread gone, it could still answer), its init's next list says
      // what is left of it (nothing, a zombie, or a new program that joins).
      this.log(`${describePeer(peer)} left before the images were written (exec or exit); its init's list decides`);
    } else if (!this.committing && !p.captured && peer.nsKey !== '' && this.opts.initFor?.(peer.nsKey)) {
      // Suspended, then gone before it was captured: it was already exiting. Its image is
      // not kept; the init is asked again before anyone resumes, and lists it as the zombie
      // its parent will find (or not at all).
      this.exitedWhileWriting.add(peer.nsKey);
      this.log(`${describePeer(peer)} exited during the checkpoint; its init's list is asked again before the processes resume`);
    } else if (p.captured) {
      // Captured: what it does next is after the checkpoint. Its connection closes only once
      // its writer is done too, so the image file says whether it was finished.
      if (p.captureOk && !p.written && !this.committing) {
        p.endedEarly = true;
        this.log(`${describePeer(peer)} ended after it was captured; its image decides`);
      } else {
        this.log(`${describePeer(peer)} disconnected after it was captured`);
      }
    } else if (!this.committing) {
      this.fail(new StasisError('AGENT_LOST', `${describePeer(peer)} disconnected during the checkpoint — the previous generation is intact`));
    } else {
      this.log(`${describePeer(peer)} disconnected after checkpoint ${this.ckptId} was committed`);
    }
    this.poke();
  }

  /** Runs the checkpoint; resolves when every agent has resumed, rejects with the first failure. */
  async run(): Promise<CheckpointOutcome> {
    if (this.started) throw new Error('CheckpointBarrier.run called twice');
    this.started = true;
    const t0 = Date.now();
    const id = BigInt(this.ckptId);
    const n = this.parts.length;
    const gens = new Map<string, GenerationEntry>();
    /** Generation folders being made, by checkpoint directory (awaited where they are used). */
    const making = new Map<string, Promise<GenerationEntry>>();
    const folderFor = (dir: string): Promise<GenerationEntry> => {
      let m = making.get(dir);
      if (!m) {
        m = createGeneration(dir);
        void m.catch(() => undefined);
        making.set(dir, m);
      }
      return m;
    };
    /** The WRITE flags per checkpoint directory, also worked out before anyone is paused. */
    const modes = new Map<string, Promise<WriteMode>>();
    const modeFor = (dir: string): Promise<WriteMode> => {
      let m = modes.get(dir);
      if (!m) {
        m = writeModeFor(dir, this.opts.incremental ?? { enabled: false, fullEvery: 1 }, this.opts.forceFull === true);
        void m.catch(() => undefined);
        modes.set(dir, m);
      }
      return m;
    };
    const committed = new Set<GenerationEntry>();
    /** The inits' SysV data being written: awaited before a failed generation is removed. */
    let sysvDone: Promise<void> = Promise.resolve();
    try {
      // The folders are made, and the write modes worked out, while the processes still
      // run: not part of anyone's pause. (A process that joins during the suspend gets its
      // folder made then, in the pause.)
      await Promise.all(this.parts.flatMap((p) => [folderFor(p.peer.ckptDir), modeFor(p.peer.ckptDir)])).catch(() => undefined);
      const suspendAt = monotonicUs();
      for (const p of this.parts) {
        p.peer.state = 'suspending';
        p.peer.send({ type: 'SUSPEND', ckptId: id });
      }
      this.progress({ phase: 'suspending', processes: n });
      await this.suspendEveryone();
      this.admitting = false;
      this.throwIfNobodyLeft();
      this.progress({ phase: 'suspended', processes: this.live().length });

      const flags = new Map<string, number>();
      for (const p of this.live()) {
        let gen = gens.get(p.peer.ckptDir);
        if (!gen) {
          gen = await folderFor(p.peer.ckptDir);
          const mode = await modeFor(p.peer.ckptDir);
          gens.set(p.peer.ckptDir, gen);
          flags.set(p.peer.ckptDir, mode.flags);
          this.log(`checkpoint ${this.ckptId}: writing ${gen.path}${mode.why ? ` (full images: ${mode.why})` : ''}`);
        }
        p.gen = gen;
        p.imageName = this.imageNameFor(p, gen);
      }
      this.throwIfFailed();
      for (const p of this.live()) {
        p.sentWrite = true;
        p.peer.state = 'writing';
        p.peer.send({
          type: 'WRITE', ckptId: id, imagePath: path.join(p.gen!.path, p.imageName),
          shares: this.sharesOf(p.peer), shmSkip: this.shmSkipOf(p.peer), flags: flags.get(p.peer.ckptDir) ?? 0,
        });
      }
      const sysv = this.writeSysvData();
      sysvDone = sysv.done;
      this.progress({ phase: 'writing', processes: this.live().length });
      await this.phase('CAPTURE', (p) => p.captured);
      // The inits' SysV data is saved while every process is still stopped.
      await sysv.done;
      this.throwIfFailed();
      await this.relistAfterExits();

      // Every process is captured: all may run again while the writers finish.
      this.resumeAll();
      // A process slow to say it resumed is logged, not a failure: its image decides.
      await this.phase('RESUME', (p) => p.resumed, false);
      const pauseWindowUs: [number, number] = [suspendAt, monotonicUs()];
      this.throwIfFailed();
      const pauseMs = this.pauseMs();
      this.progress({ phase: 'resumed', pauseMs });
      await this.phase('WRITE', (p) => !p.captureOk || p.written);
      this.throwIfFailed();
      await this.judgeEndedEarly();
      // What each generation depends on, from its images' PARENT records (complete now).
      const imaged = this.parts.filter((p) => p.written);
      const deps = new Map<GenerationEntry, GenerationDeps>();
      for (const gen of gens.values()) {
        deps.set(gen, await generationDeps(gen.path, gen.number, imaged.filter((p) => p.gen === gen).map((p) => p.imageName)));
      }
      this.throwIfFailed();

      this.throwIfNobodyLeft();
      this.committing = true;
      const results: GenerationResult[] = [];
      for (const gen of gens.values()) {
        const members = imaged.filter((p) => p.gen === gen);
        const manifest = this.manifestFor(gen, members, deps.get(gen)!);
        await commitGeneration(gen, manifest, this.opts.keep);
        committed.add(gen);
        const bytes = members.reduce((s, p) => s + p.bytes, 0);
        results.push({ ckptDir: path.dirname(gen.path), path: gen.path, number: gen.number, processes: members.length, bytes });
        this.log(`checkpoint ${this.ckptId}: committed ${gen.path} (${members.length} processes, ${bytes} bytes)`);
      }
      this.progress({ phase: 'committed', generation: results[0]?.path ?? '' });
      await this.discardUnused(making, gens);

      this.tellCommitted(committed);
      const bytes = results.reduce((s, r) => s + r.bytes, 0);
      const notForked = imaged.filter((p) => !p.forked)
        .map((p) => ({ pid: p.peer.pid, procId: p.peer.procId, name: p.peer.name, reason: p.notForked }));
      const forked = imaged.length - notForked.length;
      this.log(`checkpoint ${this.ckptId}: paused ${pauseMs} ms; ${forked} of ${imaged.length} processes forked`);
      return {
        ckptId: this.ckptId, generations: results, durationMs: Date.now() - t0, bytes, processes: imaged.length,
        pauseMs, pauseWindowUs, forked, notForked,
      };
    } catch (err) {
      this.fail(err instanceof StasisError ? err
        : new StasisError('IO', `checkpoint ${this.ckptId} failed: ${(err as Error).message} — check the checkpoint directory`));
      this.resumeAll();
      await this.phase('RESUME', (p) => p.resumed, false);
      // Writers still at work (the inits' too) finish (or fail) before their folder goes.
      await this.phase('WRITE', (p) => !p.captureOk || p.written, false);
      this.tellCommitted(committed);
      await sysvDone;
      await this.discardUnused(making, gens);
      for (const gen of gens.values()) {
        if (committed.has(gen)) continue;
        try {
          await discardGeneration(gen);
        } catch (e) {
          this.log(`could not remove partial generation ${gen.path}: ${(e as Error).message}`);
        }
      }
      throw this.failure!;
    }
  }

  /** Removes the folders made for checkpoint directories no process wrote into in the end. */
  private async discardUnused(making: Map<string, Promise<GenerationEntry>>, used: Map<string, GenerationEntry>): Promise<void> {
    for (const [dir, m] of making) {
      if (used.has(dir)) continue;
      try {
        await discardGeneration(await m);
      } catch {
        // it was never made, or is gone already
      }
    }
  }

  /**
   * SUSPEND phase, then for each namespace with an init: LIST, and wait for every process
   * it lists that has not joined (it joins, is sent SUSPEND, and the list is asked again).
   */
  private async suspendEveryone(): Promise<void> {
    const joinTimeoutMs = this.opts.joinTimeoutMs ?? 10000;
    /** When each process still missing was first listed without having joined. */
    const missingSince = new Map<string, number>();
    for (;;) {
      await this.phase('SUSPEND', (p) => p.suspended);
      this.throwIfFailed();
      const missing: string[] = [];
      for (const nsKey of new Set(this.live().map((p) => p.peer.nsKey))) {
        const init = nsKey === '' ? undefined : this.opts.initFor?.(nsKey);
        if (!init) continue;
        const listed = await this.list(init);
        this.throwIfFailed();
        if (!listed) continue;
        this.listed.set(nsKey, listed);
        for (const proc of listed.procs) {
          if (proc.flags & LISTED_ZOMBIE) continue;
          if (this.live().some((p) => p.peer.nsKey === nsKey && p.peer.pid === proc.pid && p.suspended)) continue;
          if (proc.flags & LISTED_STATIC) {
            throw this.failWith(new StasisError('PROCESS_UNTRACKED', `process ${proc.pid} of the computation is statically linked: it runs without the agent and cannot be checkpointed — the previous generation is intact`));
          }
          missing.push(`${nsKey}:${proc.pid}`);
        }
      }
      if (missing.length === 0) return;
      const now = Date.now();
      for (const key of [...missingSince.keys()]) if (!missing.includes(key)) missingSince.delete(key);
      for (const key of missing) if (!missingSince.has(key)) missingSince.set(key, now);
      const late = missing.find((key) => now - missingSince.get(key)! >= joinTimeoutMs);
      if (late) {
        const pid = late.split(':').pop();
        throw this.failWith(new StasisError('PROCESS_UNTRACKED', `process ${pid} of the computation did not join the coordinator within ${Math.round(joinTimeoutMs / 1000)} s: it runs without the agent (a setuid program, or one started with the agent kept out) and cannot be checkpointed — the previous generation is intact`));
      }
      // A missing process is joining (its HELLO wakes us) or exiting (it becomes a
      // zombie the next list shows): ask again soon either way.
      const known = new Set(this.parts.map((p) => `${p.peer.nsKey}:${p.peer.pid}:${p.suspended}`));
      await this.until(() => this.parts.some((p) => !known.has(`${p.peer.nsKey}:${p.peer.pid}:${p.suspended}`)), RELIST_MS);
      this.throwIfFailed();
    }
  }

  /**
   * A suspended process that exited before it was captured is left out of the generation:
   * the init lists the namespace again (every other process still stopped), until that
   * process is a zombie (its exit status is then what its parent will find after a restart)
   * or gone.
   */
  private async relistAfterExits(): Promise<void> {
    const deadline = Date.now() + (this.opts.joinTimeoutMs ?? 10000);
    const uncaptured = (p: Participant, nsKey: string): boolean => p.lost && !p.captured && p.peer.nsKey === nsKey;
    for (const nsKey of this.exitedWhileWriting) {
      // Only a process the computation goes on without: not one of init's children (the
      // program stasis launch started, or an orphan), whose end is the computation's end or
      // a crash, and not the last one.
      const before = this.listed.get(nsKey)?.procs ?? [];
      const gone = this.parts.filter((p) => uncaptured(p, nsKey));
      const main = gone.find((p) => before.find((x) => x.pid === p.peer.pid)?.ppid === 1);
      if (main || !this.live().some((p) => p.peer.nsKey === nsKey)) {
        const who = main ?? gone[0]!;
        throw this.failWith(new StasisError('AGENT_LOST', `${describePeer(who.peer)} ended during the checkpoint — the previous generation is intact`));
      }
      const init = this.opts.initFor?.(nsKey);
      if (!init) throw this.failWith(new StasisError('AGENT_LOST', `a process exited during the checkpoint and the init of its namespace is gone — the previous generation is intact`));
      for (;;) {
        const listed = await this.list(init);
        this.throwIfFailed();
        if (!listed) return;
        const lost = this.parts.filter((p) => uncaptured(p, nsKey)).map((p) => p.peer.pid);
        const alive = listed.procs.filter((x) => (x.flags & LISTED_ZOMBIE) === 0 && lost.includes(x.pid)
          && !this.live().some((p) => p.peer.nsKey === nsKey && p.peer.pid === x.pid));
        if (alive.length === 0) {
          this.listed.set(nsKey, listed);
          // What it may have begun to write is not part of the generation.
          for (const p of this.parts.filter((q) => uncaptured(q, nsKey) && q.gen)) {
            for (const f of [p.imageName, `${p.imageName}.tmp`]) await fsp.rm(path.join(p.gen!.path, f), { force: true });
          }
          break;
        }
        if (Date.now() > deadline) {
          throw this.failWith(new StasisError('AGENT_LOST', `process ${alive[0]!.pid} disconnected during the checkpoint but did not exit — the previous generation is intact`));
        }
        await this.until(() => false, RELIST_MS);
      }
    }
  }

  /**
   * A process that ended after it was captured and before WRITTEN (it exited, was killed or
   * exec'd while its writer ran): its connection closed when its writer was done, so its
   * image is complete exactly when the writer renamed it into place (after fsync).
   */
  private async judgeEndedEarly(): Promise<void> {
    for (const p of this.parts.filter((q) => q.endedEarly && !q.written)) {
      try {
        const st = await fsp.stat(path.join(p.gen!.path, p.imageName));
        p.written = true;
        p.bytes = st.size;
        this.log(`${describePeer(p.peer)}: its image is complete (${st.size} bytes)`);
      } catch {
        throw this.failWith(new StasisError('AGENT_LOST', `${describePeer(p.peer)} ended before its image was complete (its writer did not finish) — the previous generation is intact`));
      }
    }
  }

  /** The longest pause any process reported, in ms (0.1 ms precision). */
  private pauseMs(): number {
    let max = 0n;
    for (const p of this.parts) if (p.pauseNs !== null && p.pauseNs > max) max = p.pauseNs;
    return Number(max / 100000n) / 10;
  }

  /**
   * WRITE to the init of each namespace whose list has SysV message queues or shared memory
   * segments: it saves their messages and the content of segments no process has attached
   * (the processes' images cannot hold those) into the namespace's generation folder, while
   * every process is still suspended. `done` resolves once each has answered or failed.
   */
  private writeSysvData(): { done: Promise<void> } {
    const waits: Promise<void>[] = [];
    for (const [nsKey, listed] of this.listed) {
      if (listed.msgQueues.length === 0 && listed.shmSegs.length === 0) continue;
      const init = this.opts.initFor?.(nsKey);
      const gen = this.live().find((p) => p.peer.nsKey === nsKey)?.gen;
      if (!init || !gen) continue;
      waits.push(this.initWrite(init, path.join(gen.path, SYSV_DATA_FILE)).then((m) => {
        if (m === null) return;
        if (m.status !== 0) {
          const why = m.message !== '' ? `${m.message} (${describeStatus(m.status)})` : describeStatus(m.status);
          this.fail(new StasisError('AGENT_FAILED', `the init of namespace ${nsKey} could not save its SysV IPC data: ${why} — the previous generation is intact`));
          return;
        }
        this.sysvWritten.add(nsKey);
      }));
    }
    return { done: Promise.all(waits).then(() => undefined) };
  }

  /** The init's WRITTEN, or null (with a failure recorded) if it timed out or left. */
  private initWrite(init: InitPeer, file: string): Promise<WrittenMessage | null> {
    return new Promise<WrittenMessage | null>((resolve) => {
      const timer = setTimeout(() => {
        this.initWriteWaiters.delete(init.nsKey);
        this.fail(new StasisError('TIMEOUT', `the init of namespace ${init.nsKey} did not save its SysV IPC data within ${Math.round(this.opts.phaseTimeoutMs / 1000)} s — the previous generation is intact`));
        resolve(null);
      }, this.opts.phaseTimeoutMs);
      this.initWriteWaiters.set(init.nsKey, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      init.send({ type: 'WRITE', ckptId: BigInt(this.ckptId), imagePath: file, shares: [], shmSkip: [], flags: 0 });
    });
  }

  /** The init's LISTED, or null (with a failure recorded) if it timed out or left. */
  private list(init: InitPeer): Promise<ListedMessage | null> {
    return new Promise<ListedMessage | null>((resolve) => {
      const timer = setTimeout(() => {
        this.listWaiters.delete(init.nsKey);
        this.fail(new StasisError('TIMEOUT', `the init of namespace ${init.nsKey} did not answer LIST within ${Math.round(this.opts.phaseTimeoutMs / 1000)} s`));
        resolve(null);
      }, this.opts.phaseTimeoutMs);
      this.listWaiters.set(init.nsKey, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      init.send({ type: 'LIST', ckptId: BigInt(this.ckptId) });
    });
  }

  /** Resolves when `cond` holds (checked on every poke), a failure is recorded, or after `ms`. */
  private until(cond: () => boolean, ms: number): Promise<void> {
    if (cond() || this.failure) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve();
      }, ms);
      this.waiter = () => {
        if (!cond() && !this.failure) return;
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
    });
  }

  private failWith(err: StasisError): StasisError {
    this.fail(err);
    return this.failure!;
  }

  private sharesOf(peer: BarrierPeer): ShareEntry[] {
    const listed = this.listed.get(peer.nsKey);
    if (!listed) return [];
    return listed.shares.filter((s) => s.pid === peer.pid).map((s) => ({ fd: s.fd, flags: s.flags, shareId: s.shareId }));
  }

  /** Shared memory another process of the namespace saves: saved once, not by every process. */
  private shmSkipOf(peer: BarrierPeer): { key: bigint }[] {
    const listed = this.listed.get(peer.nsKey);
    if (!listed) return [];
    return listed.shmOwners.filter((o) => o.pid !== peer.pid).map((o) => ({ key: o.key }));
  }

  /**
   * COMMIT to every agent that was sent WRITE, once its writer is done (WRITTEN, or the
   * checkpoint failed and every writer has answered): whether its image counts. An agent
   * refers its next image to this one only if it does (incremental checkpoints).
   */
  private tellCommitted(committed: Set<GenerationEntry>): void {
    const id = BigInt(this.ckptId);
    for (const p of this.live()) {
      if (!p.sentWrite || p.sentCommit) continue;
      p.sentCommit = true;
      const counts = p.written && p.gen !== null && committed.has(p.gen);
      p.peer.send({ type: 'COMMIT', ckptId: id, flags: counts ? COMMIT_COMMITTED : 0 });
    }
  }

  private manifestFor(gen: GenerationEntry, members: Participant[], deps: GenerationDeps): Manifest {
    const nsKeys = new Set(members.map((p) => p.peer.nsKey));
    const listed = [...nsKeys].map((k) => this.listed.get(k));
    const namespace = nsKeys.size === 1 && listed[0] !== undefined;
    const procs = namespace ? listed[0]!.procs : [];
    const ids = (pid: number): { ppid: number; pgid: number; sid: number } => {
      const l = procs.find((x) => x.pid === pid);
      return l ? { ppid: l.ppid, pgid: l.pgid, sid: l.sid } : { ppid: 0, pgid: 0, sid: 0 };
    };
    return {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      generation: gen.number,
      ckptId: this.ckptId,
      created: new Date().toISOString(),
      namespace,
      processes: members.map((p) => ({
        procId: p.peer.procId, pid: p.peer.pid, ...ids(p.peer.pid), name: p.peer.name, image: p.imageName, bytes: p.bytes,
        refBytes: deps.refBytes.get(p.imageName) ?? 0,
      })),
      zombies: procs.filter((x) => (x.flags & LISTED_ZOMBIE) !== 0)
        .map((x) => ({ pid: x.pid, ppid: x.ppid, pgid: x.pgid, sid: x.sid, status: x.status })),
      semaphores: namespace ? semaphoresOf(listed[0]!) : [],
      sharedSegments: namespace ? listed[0]!.shmSegs.map((g) => ({ id: g.id, key: g.key, mode: g.mode, uid: g.uid, gid: g.gid, size: Number(g.size) })) : [],
      messageQueues: namespace ? listed[0]!.msgQueues.map((q) => ({
        id: q.id, key: q.key, mode: q.mode, uid: q.uid, gid: q.gid, qbytes: Number(q.qbytes), messages: q.messages, bytes: Number(q.bytes),
      })) : [],
      terminals: namespace ? terminalsOf(listed[0]!) : [],
      ...(namespace && this.sysvWritten.has([...nsKeys][0]!) ? { sysvData: SYSV_DATA_FILE } : {}),
      dependsOn: deps.dependsOn,
    };
  }

  private find(peer: BarrierPeer): Participant | undefined {
    return this.parts.find((p) => p.peer === peer);
  }

  private live(): Participant[] {
    return this.parts.filter((p) => !p.lost);
  }

  /** Whether this participant may send `type` now, in the order an agent sends them. */
  private accepts(p: Participant, type: Answer): boolean {
    switch (type) {
      case 'SUSPENDED': return !p.suspended;
      case 'CAPTURED': return p.suspended && p.sentWrite && !p.captured;
      case 'RESUMED': return p.suspended && p.sentResume && !p.resumed && (!p.sentWrite || p.captured);
      case 'WRITTEN': return p.captureOk && !p.written;
    }
  }

  private fail(err: StasisError): void {
    if (this.failure) return;
    this.failure = err;
    this.log(`checkpoint ${this.ckptId} failed: ${err.message}`);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * Every process left while the checkpoint ran (the computation was killed while it was
   * being suspended: its init's list then shows nothing to wait for): a checkpoint of nothing
   * is a failure, not an empty generation reported as a success.
   */
  private throwIfNobodyLeft(): void {
    this.throwIfFailed();
    if (this.parts.some((p) => !p.lost || p.written)) return;
    throw this.failWith(new StasisError('AGENT_LOST', `every process of checkpoint ${this.ckptId} ended before its image was written — the previous generation is intact`));
  }

  private resumeAll(): void {
    const id = BigInt(this.ckptId);
    for (const p of this.live()) {
      if (p.sentResume) continue;
      p.sentResume = true;
      p.peer.state = 'resuming';
      p.peer.send({ type: 'RESUME', ckptId: id });
    }
  }

  /**
   * Waits until every live participant has `done`, or — when `stopOnFailure` — a failure is
   * recorded. A timeout is a failure in the forward phases and only logged while resuming.
   */
  private async phase(what: string, done: (p: Participant) => boolean, stopOnFailure = true): Promise<void> {
    const ready = (): boolean => (stopOnFailure && this.failure !== null) || this.live().every(done);
    if (ready()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        const late = this.live().filter((p) => !done(p)).map((p) => describePeer(p.peer));
        const secs = Math.round(this.opts.phaseTimeoutMs / 1000);
        if (stopOnFailure) {
          this.fail(new StasisError('TIMEOUT', `${late[0] ?? 'an agent'} did not answer ${what} within ${secs} s — see its stderr; the previous generation is intact`));
        } else {
          this.log(`checkpoint ${this.ckptId}: no answer to ${what} within ${secs} s from ${late.join(', ')}`);
        }
        resolve();
      }, this.opts.phaseTimeoutMs);
      this.waiter = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
    });
  }

  private poke(): void {
    this.waiter?.();
  }

  private imageNameFor(p: Participant, gen: GenerationEntry): string {
    const base = `${sanitizeName(p.peer.name)}-${p.peer.pid}`;
    const taken = (name: string): boolean => this.parts.some((q) => q !== p && q.gen === gen && q.imageName === name);
    const plain = `${base}.img`;
    return taken(plain) ? `${base}-${p.peer.procId}.img` : plain;
  }

  private progress(body: JsonObject): void {
    this.opts.progress?.(body);
  }
}

/** LISTED's semaphore sets, each with its values (they follow one another in semvals). */
function semaphoresOf(l: ListedMessage): ManifestSemaphore[] {
  let at = 0;
  return l.sems.map((s) => {
    const values = l.semvals.slice(at, at + s.nsems).map((v) => v.value);
    at += s.nsems;
    return { id: s.id, key: s.key, mode: s.mode, uid: s.uid, gid: s.gid, values };
  });
}

/** LISTED's controlling terminals, one per pty, with the processes that have it (and its session). */
function terminalsOf(l: ListedMessage): ManifestTerminal[] {
  const byPty = new Map<number, ManifestTerminal>();
  for (const c of l.cttys) {
    const sid = l.procs.find((p) => p.pid === c.pid)?.sid;
    if (sid === undefined) continue;
    let t = byPty.get(c.pty);
    if (!t) {
      t = { pty: c.pty, sid, foreground: c.foreground, pids: [] };
      byPty.set(c.pty, t);
    }
    if (t.sid === sid) t.pids.push(c.pid);
  }
  return [...byPty.values()].map((t) => ({ ...t, pids: t.pids.sort((a, b) => a - b) })).sort((a, b) => a.pty - b.pty);
}

function newParticipant(peer: BarrierPeer): Participant {
  return {
    peer, lost: false, sentWrite: false, sentResume: false, sentCommit: false, suspended: false,
    captured: false, captureOk: false, forked: false, notForked: '', written: false, endedEarly: false,
    resumed: false, pauseNs: null, gen: null, imageName: '', bytes: 0,
  };
}

function withMessage(message: string, status: number): string {
  return message !== '' ? `${message} (${describeStatus(status)})` : describeStatus(status);
}

/** Keeps [A-Za-z0-9._-]; anything else becomes `_`. */
export function sanitizeName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
  return clean === '' || clean === '.' || clean === '..' ? 'proc' : clean;
}

export function describePeer(peer: BarrierPeer): string {
  return `process ${peer.name} (pid ${peer.pid}, procId ${peer.procId})`;
}
