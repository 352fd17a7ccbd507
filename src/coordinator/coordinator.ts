/*
 * The coordinator's core: which agents are connected, which client asked for what, and
 * when a checkpoint runs. It knows nothing about sockets — the net adapter
 * (net-server.ts) turns connections into AgentLink/ClientReply objects and feeds decoded
 * messages in; a ProtocolError thrown back means "drop that connection".
 *
 * Checkpoints are serialized: a request that arrives while one runs waits for it and then
 * takes its own; a periodic tick that finds one running is skipped.
 */

import * as os from 'node:os';
import * as path from 'node:path';
import { StasisError } from '../errors';
import { ProtocolError } from '../protocol/frame';
import { CoordToAgent, HELLO_INIT, HELLO_RESTARTED, HelloMessage, JsonObject, Message } from '../protocol/messages';
import { DEFAULT_FULL_EVERY } from '../ckpt-dir/deps';
import { AgentState, BarrierPeer, CheckpointBarrier, CheckpointOutcome, describePeer, NotForked } from './barrier';
import { scanHostPids } from './host-pids';
import { Logger, silentLogger } from './log';

export const DEFAULT_KEEP = 2;
export const DEFAULT_PHASE_TIMEOUT_MS = 5 * 60 * 1000;
export const DEFAULT_FIRST_AGENT_TIMEOUT_MS = 60 * 1000;

export interface AgentLink {
  readonly remote: string;
  send(msg: CoordToAgent): void;
}

export interface ClientReply {
  progress(body: JsonObject): void;
  respond(body: JsonObject): void;
}

export interface CoordinatorOptions {
  /** Complete generations kept per checkpoint directory (default 2). */
  keep?: number;
  /** Seconds between periodic checkpoints; 0 or absent: none. */
  intervalSec?: number;
  /** Incremental checkpoints (default on) and how often a full one is forced (default 8). */
  incremental?: boolean;
  fullEvery?: number;
  /**
   * Call onIdle once the last agent has gone (after at least one came) and no checkpoint
   * runs — or when no agent has come within firstAgentTimeoutMs (the program it was started
   * for never ran under the agent). A `status` request with `expectAgent: true` (what
   * `launch` and `restart` send before starting their process) holds it open until an
   * agent joins, or for firstAgentTimeoutMs.
   */
  exitWhenIdle?: boolean;
  /** With exitWhenIdle (default 60 s); also how long an expectAgent hold lasts. */
  firstAgentTimeoutMs?: number;
  phaseTimeoutMs?: number;
  log?: Logger;
  onIdle?: () => void;
  /** A client asked for `shutdown`; called after the response was sent. */
  onShutdown?: () => void;
}

export class AgentSession implements BarrierPeer {
  readonly pid: number;
  readonly ppid: number;
  readonly name: string;
  readonly hostname: string;
  readonly pidns: bigint;
  readonly ckptDir: string;
  readonly restarted: boolean;
  /** The init of a computation's PID namespace: answers LIST, is not checkpointed. */
  readonly isInit: boolean;
  /** hostname/pidns-inode: which computation the process belongs to ('' if unknown). */
  readonly nsKey: string;
  readonly connectedAt = new Date();
  state: AgentState;
  /** A restarted agent owes RESUMED(0) for the RESUME(0) sent after WELCOME. */
  awaitingRestoreResume: boolean;

  constructor(private readonly link: AgentLink, hello: HelloMessage, readonly procId: number) {
    this.pid = hello.pid;
    this.ppid = hello.ppid;
    this.name = hello.name;
    this.hostname = hello.hostname;
    this.pidns = hello.pidns;
    this.ckptDir = hello.ckptDir;
    this.restarted = (hello.flags & HELLO_RESTARTED) !== 0;
    this.isInit = (hello.flags & HELLO_INIT) !== 0;
    this.nsKey = hello.pidns === 0n ? '' : `${hello.hostname}/${hello.pidns}`;
    this.state = this.restarted ? 'restoring' : 'running';
    this.awaitingRestoreResume = this.restarted;
  }

  get remote(): string {
    return this.link.remote;
  }

  send(msg: CoordToAgent): void {
    this.link.send(msg);
  }
}

/** A finished checkpoint as clients see it: in the checkpoint's response and in status. */
interface CheckpointSummary {
  ckptId: number;
  generation: string;
  generations: string[];
  durationMs: number;
  bytes: number;
  processes: number;
  /** The longest any process was paused (threads stopped), ms. */
  pauseMs: number;
  /** The window the pauses lie in: [SUSPEND sent, last RESUMED], CLOCK_MONOTONIC µs. */
  pauseWindowUs: [number, number];
  /** Processes whose image a forked writer wrote while they ran on. */
  forked: number;
  /** Processes whose image was written while they were paused, and why. */
  notForked: NotForked[];
}

interface LastCheckpoint extends CheckpointSummary {
  finishedAt: string;
}

function summarize(out: CheckpointOutcome): CheckpointSummary {
  return {
    ckptId: out.ckptId,
    generation: out.generations[0]?.path ?? '',
    generations: out.generations.map((g) => g.path),
    durationMs: out.durationMs,
    bytes: out.bytes,
    processes: out.processes,
    pauseMs: out.pauseMs,
    pauseWindowUs: out.pauseWindowUs,
    forked: out.forked,
    notForked: out.notForked,
  };
}

export class Coordinator {
  private readonly agents = new Map<number, AgentSession>();
  /** Each computation's init, by nsKey. */
  private readonly inits = new Map<string, AgentSession>();
  private readonly log: Logger;
  private readonly keep: number;
  private nextProcId = 1;
  private nextCkptId = 1;
  private current: CheckpointBarrier | null = null;
  private running: Promise<CheckpointOutcome> | null = null;
  private hadAgent = false;
  private idleFired = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private firstAgentTimer: NodeJS.Timeout | null = null;
  /** Set while a client has announced an agent that has not joined yet (holdForAgent). */
  private holdTimer: NodeJS.Timeout | null = null;
  private last: LastCheckpoint | null = null;
  private lastError: { code: string; message: string; at: string } | null = null;
  private address = { host: '', port: 0 };

  constructor(private readonly opts: CoordinatorOptions = {}) {
    this.log = opts.log ?? silentLogger;
    this.keep = Math.max(1, opts.keep ?? DEFAULT_KEEP);
  }

  setAddress(host: string, port: number): void {
    this.address = { host, port };
  }

  get agentCount(): number {
    return this.agents.size;
  }

  get checkpointRunning(): boolean {
    return this.running !== null;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
    if (this.opts.exitWhenIdle && !this.hadAgent) {
      const ms = this.opts.firstAgentTimeoutMs ?? DEFAULT_FIRST_AGENT_TIMEOUT_MS;
      this.firstAgentTimer = setTimeout(() => {
        this.firstAgentTimer = null;
        if (this.hadAgent || this.idleFired || this.holdTimer) return;
        this.idleFired = true;
        this.log(`no process connected within ${Math.round(ms / 1000)} s; exiting`);
        this.opts.onIdle?.();
      }, ms);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.firstAgentTimer) clearTimeout(this.firstAgentTimer);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.timer = null;
    this.firstAgentTimer = null;
  }

  /** A HELLO opened an agent connection. Throws ProtocolError when it is not acceptable. */
  agentHello(link: AgentLink, hello: HelloMessage): AgentSession {
    if (hello.pid < 1) throw new ProtocolError('bad-field', `HELLO.pid is ${hello.pid}`);
    if (!path.isAbsolute(hello.ckptDir)) {
      throw new ProtocolError('bad-field', `HELLO.ckptDir ${JSON.stringify(hello.ckptDir)} is not an absolute path`);
    }
    if (hello.procId > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ProtocolError('bad-field', `HELLO.procId ${hello.procId} is out of range`);
    }
    if ((hello.flags & HELLO_INIT) !== 0) {
      if (hello.pidns === 0n) throw new ProtocolError('bad-field', 'HELLO from an init without its pidns');
      const init = new AgentSession(link, hello, 0);
      this.inits.set(init.nsKey, init);
      this.hadAgent = true;
      if (this.holdTimer) clearTimeout(this.holdTimer);
      this.holdTimer = null;
      init.send({ type: 'WELCOME', procId: 0n });
      this.log(`init of namespace ${init.nsKey} connected from ${link.remote}`);
      return init;
    }
    const wanted = Number(hello.procId);
    let procId = wanted;
    if (wanted === 0 || this.agents.has(wanted)) {
      if (wanted !== 0) this.log(`procId ${wanted} asked by pid ${hello.pid} is held by another process; assigning a new one`);
      procId = this.nextProcId;
    }
    this.nextProcId = Math.max(this.nextProcId, procId + 1);
    const agent = new AgentSession(link, hello, procId);
    this.agents.set(procId, agent);
    this.hadAgent = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    agent.send({ type: 'WELCOME', procId: BigInt(procId) });
    if (agent.restarted) agent.send({ type: 'RESUME', ckptId: 0n });
    else if (this.current?.join(agent)) this.log(`${describePeer(agent)} joined checkpoint ${this.current.ckptId} as it started`);
    this.log(`${describePeer(agent)} on ${agent.hostname} connected from ${link.remote}${agent.restarted ? ' (restarted)' : ''}`);
    return agent;
  }

  /** A message after HELLO. Throws ProtocolError when it is not allowed now. */
  agentMessage(agent: AgentSession, msg: Message): void {
    switch (msg.type) {
      case 'HELLO':
        throw new ProtocolError('unexpected', 'second HELLO on one connection');
      case 'RESUMED':
      case 'SUSPENDED':
      case 'CAPTURED':
      case 'WRITTEN': {
        if (msg.type === 'RESUMED' && msg.ckptId === 0n && agent.awaitingRestoreResume) {
          agent.awaitingRestoreResume = false;
          if (agent.state === 'restoring') agent.state = 'running';
          return;
        }
        const barrier = this.current;
        if (!agent.isInit && barrier && barrier.has(agent) && barrier.deliver(agent, msg)) return;
        if (agent.isInit && msg.type === 'WRITTEN' && barrier?.deliverInitWritten(agent, msg)) return;
        throw new ProtocolError('unexpected', `${msg.type} for checkpoint ${msg.ckptId} was not expected from ${describePeer(agent)}`);
      }
      case 'LISTED':
        if (agent.isInit && this.current?.deliverListed(agent, msg)) return;
        throw new ProtocolError('unexpected', `LISTED for checkpoint ${msg.ckptId} was not expected`);
      default:
        throw new ProtocolError('wrong-direction', `agents do not send ${msg.type}`);
    }
  }

  agentGone(agent: AgentSession): void {
    if (agent.isInit) {
      if (this.inits.get(agent.nsKey) === agent) this.inits.delete(agent.nsKey);
      this.log(`init of namespace ${agent.nsKey} disconnected`);
      this.current?.initLost(agent);
      this.checkIdle();
      return;
    }
    if (this.agents.get(agent.procId) === agent) this.agents.delete(agent.procId);
    this.log(`${describePeer(agent)} disconnected`);
    this.current?.peerLost(agent);
    this.checkIdle();
  }

  /** Handles one client request; never rejects (errors become `{ok:false}` responses). */
  async request(body: JsonObject, reply: ClientReply): Promise<void> {
    try {
      switch (body.cmd) {
        case 'checkpoint': {
          const out = await this.checkpoint((p) => reply.progress(p), body.full === true);
          reply.respond({ ok: true, ...summarize(out) });
          return;
        }
        case 'status':
          if (body.expectAgent === true) this.holdForAgent();
          reply.respond({ ok: true, ...this.status() });
          return;
        case 'kill':
          reply.respond({ ok: true, killed: this.kill() });
          return;
        case 'shutdown':
          reply.respond({ ok: true });
          this.log('shutdown requested');
          this.opts.onShutdown?.();
          return;
        default:
          throw new StasisError('BAD_REQUEST', `unknown command ${JSON.stringify(body.cmd)} — expected checkpoint, status, kill or shutdown`);
      }
    } catch (err) {
      if (err instanceof StasisError) {
        reply.respond({ ok: false, code: err.code, message: err.message });
      } else {
        this.log(`internal error: ${(err as Error).stack ?? String(err)}`);
        reply.respond({ ok: false, code: 'INTERNAL', message: `coordinator internal error: ${(err as Error).message} — see its log` });
      }
    }
  }

  /** Runs one checkpoint of every connected agent, after any running one; `full`: no incremental images. */
  async checkpoint(progress?: (body: JsonObject) => void, full = false): Promise<CheckpointOutcome> {
    while (this.running) {
      try {
        await this.running;
      } catch {
        // its failure belongs to whoever asked for it
      }
    }
    if (this.stopped) throw new StasisError('SHUTDOWN', 'the coordinator is shutting down — start a new one');
    if (this.agents.size === 0) {
      throw new StasisError('NO_PROCESSES', 'no processes are connected to the coordinator — start one with `stasis launch`');
    }
    const barrier = new CheckpointBarrier(this.nextCkptId++, [...this.agents.values()], {
      keep: this.keep,
      phaseTimeoutMs: this.opts.phaseTimeoutMs ?? DEFAULT_PHASE_TIMEOUT_MS,
      initFor: (nsKey) => this.inits.get(nsKey),
      incremental: { enabled: this.opts.incremental ?? true, fullEvery: Math.max(1, this.opts.fullEvery ?? DEFAULT_FULL_EVERY) },
      forceFull: full,
      progress,
      log: this.log,
    });
    this.log(`checkpoint ${barrier.ckptId}: ${this.agents.size} processes`);
    const run = barrier.run();
    this.current = barrier;
    this.running = run;
    try {
      const out = await run;
      this.last = { ...summarize(out), finishedAt: new Date().toISOString() };
      return out;
    } catch (err) {
      const e = err instanceof StasisError ? err : new StasisError('IO', String(err));
      this.lastError = { code: e.code, message: e.message, at: new Date().toISOString() };
      throw e;
    } finally {
      if (this.running === run) {
        this.running = null;
        this.current = null;
      }
      // After the caller has answered its client: the computation may have ended while the
      // images were written, and an idle coordinator closes its connections.
      setImmediate(() => this.checkIdle());
    }
  }

  status(): JsonObject {
    const here = os.hostname();
    const hostPids = [...this.agents.values()].some((a) => a.hostname === here && a.pidns !== 0n) ? scanHostPids() : null;
    const processes = [...this.agents.values()]
      .sort((a, b) => a.procId - b.procId)
      .map((a) => ({
        procId: a.procId, pid: a.pid, ppid: a.ppid, name: a.name, hostname: a.hostname,
        hostPid: a.hostname === here ? hostPids?.get(a.pidns)?.get(a.pid) ?? 0 : 0,
        ckptDir: a.ckptDir, state: a.state, restarted: a.restarted,
      }));
    return {
      coordinator: {
        host: this.address.host, port: this.address.port, pid: process.pid, keep: this.keep, intervalSec: this.opts.intervalSec ?? 0,
        incremental: this.opts.incremental ?? true, fullEvery: this.opts.fullEvery ?? DEFAULT_FULL_EVERY,
      },
      checkpointRunning: this.running !== null,
      processes,
      lastCheckpoint: this.last,
      lastError: this.lastError,
    };
  }

  /** Sends KILL to every agent; returns how many. */
  kill(): number {
    for (const a of this.agents.values()) a.send({ type: 'KILL' });
    this.log(`KILL sent to ${this.agents.size} processes`);
    return this.agents.size;
  }

  private schedule(): void {
    const secs = this.opts.intervalSec ?? 0;
    if (this.stopped || !(secs > 0)) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.agents.size === 0 || this.running !== null) {
        this.schedule();
        return;
      }
      void this.checkpoint().then(
        (out) => this.log(`periodic checkpoint ${out.ckptId} done in ${out.durationMs} ms`),
        (err: unknown) => this.log(`periodic checkpoint failed: ${(err as Error).message}`),
      ).finally(() => this.schedule());
    }, secs * 1000);
  }

  /**
   * `launch` / `restart` found this coordinator and are about to start a process that will
   * join it. Without a hold, the last process leaving between their probe and the new HELLO
   * would close the coordinator they were told is there, and the new process would run
   * without one. A coordinator already shutting down says so (SHUTDOWN), and the client
   * starts a new one once the port is free.
   */
  private holdForAgent(): void {
    if (this.stopped || this.idleFired) {
      throw new StasisError('SHUTDOWN', 'the coordinator is shutting down — start a new one');
    }
    if (!this.opts.exitWhenIdle) return;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    const ms = this.opts.firstAgentTimeoutMs ?? DEFAULT_FIRST_AGENT_TIMEOUT_MS;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      if (this.idleFired || this.agents.size > 0 || this.running !== null) return;
      this.idleFired = true;
      this.log(`the process a client announced did not connect within ${Math.round(ms / 1000)} s; exiting`);
      this.opts.onIdle?.();
    }, ms);
  }

  private checkIdle(): void {
    if (!this.opts.exitWhenIdle || this.idleFired || !this.hadAgent) return;
    // A namespace's init lives as long as its computation: processes still to come (a
    // restart whose processes join one by one) keep the coordinator too.
    if (this.agents.size > 0 || this.inits.size > 0 || this.running !== null || this.holdTimer !== null) return;
    this.idleFired = true;
    this.log('last process gone; exiting');
    this.opts.onIdle?.();
  }
}
