/*
 * MANIFEST.json of a generation folder (docs/image-format.md, "Generations"). The
 * coordinator writes it last to commit a generation; restart and inspect read it back and
 * validate every field before trusting a path from it.
 */

import { StasisError } from '../errors';

export const MANIFEST_FILE = 'MANIFEST.json';
export const MANIFEST_FORMAT = 'stasis-generation';
export const MANIFEST_VERSION = 2;
/** The namespace init's SysV IPC data in a generation folder (docs/image-format.md, "SysV IPC data"). */
export const SYSV_DATA_FILE = 'sysv-ipc.bin';

export interface ManifestProcess {
  procId: number;
  pid: number;
  /** Parent, process group and session as the namespace's init saw them (0: unknown). */
  ppid: number;
  pgid: number;
  sid: number;
  name: string;
  /** File name of the image inside the generation folder. */
  image: string;
  bytes: number;
  /** Bytes of memory the image takes from earlier generations (incremental images; absent: 0). */
  refBytes?: number;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  generation: number;
  ckptId: number;
  created: string;
  /** The processes ran in their own PID namespace under stasis-init (their tree is known). */
  namespace: boolean;
  processes: ManifestProcess[];
  /** Exited children not yet reaped by their parents: recreated as zombies. */
  zombies: ManifestZombie[];
  /** The namespace's SysV semaphore sets, recreated with their ids before any process. */
  semaphores: ManifestSemaphore[];
  /** The namespace's SysV shared memory segments, recreated with their ids. */
  sharedSegments: ManifestShmSeg[];
  /** Earlier generations its images refer to (incremental checkpoints): kept while it is. Absent: none. */
  dependsOn?: number[];
  /** The namespace's SysV message queues, recreated with their ids and messages. */
  messageQueues: ManifestMsgQueue[];
  /** Ptys of the computation that are a session's controlling terminal. */
  terminals: ManifestTerminal[];
  /** The file of the generation folder with the SysV IPC data (SYSV_DATA_FILE), if the init wrote one. */
  sysvData?: string;
}

export interface ManifestMsgQueue {
  id: number;
  key: number;
  mode: number;
  uid: number;
  gid: number;
  /** The queue's limit in bytes (msg_qbytes). */
  qbytes: number;
  /** Unread messages, and their bytes in all, at checkpoint time: their content is in sysvData. */
  messages: number;
  bytes: number;
}

export interface ManifestTerminal {
  /** The pty's number at checkpoint time (as in the images' PTY fds). */
  pty: number;
  /** The session it controls, and that session's foreground process group (-1: none). */
  sid: number;
  foreground: number;
  /** The processes that have it as their controlling terminal (the session's leader among them). */
  pids: number[];
}

export interface ManifestShmSeg {
  id: number;
  key: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

export interface ManifestSemaphore {
  id: number;
  key: number;
  mode: number;
  uid: number;
  gid: number;
  values: number[];
}

export interface ManifestZombie {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** The wait status its parent will get. */
  status: number;
}

export function serializeManifest(m: Manifest): string {
  return JSON.stringify(m, null, 1) + '\n';
}

/** Parses and validates a manifest; `where` names the file in error messages. */
export function parseManifest(text: string, where: string): Manifest {
  const bad = (what: string): StasisError =>
    new StasisError('BAD_MANIFEST', `${where} is not a valid manifest: ${what} — restart from an earlier generation`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (!isObject(raw)) throw bad('not a JSON object');
  if (raw.format !== MANIFEST_FORMAT) throw bad(`format is ${JSON.stringify(raw.format)}, expected "${MANIFEST_FORMAT}"`);
  if (raw.version !== MANIFEST_VERSION) throw bad(`version ${JSON.stringify(raw.version)} is not supported (this stasis reads version ${MANIFEST_VERSION})`);
  const generation = nonNegativeInt(raw.generation);
  if (generation === null || generation < 1) throw bad('"generation" must be a positive integer');
  const ckptId = nonNegativeInt(raw.ckptId);
  if (ckptId === null) throw bad('"ckptId" must be a non-negative integer');
  if (typeof raw.created !== 'string' || Number.isNaN(Date.parse(raw.created))) throw bad('"created" must be an ISO date');
  if (!Array.isArray(raw.processes)) throw bad('"processes" must be an array');
  const seen = new Set<string>();
  const processes = raw.processes.map((p: unknown, i: number): ManifestProcess => {
    if (!isObject(p)) throw bad(`processes[${i}] is not an object`);
    const procId = nonNegativeInt(p.procId);
    const pid = nonNegativeInt(p.pid);
    const bytes = nonNegativeInt(p.bytes);
    if (procId === null || procId < 1) throw bad(`processes[${i}].procId must be a positive integer`);
    if (pid === null || pid < 1) throw bad(`processes[${i}].pid must be a positive integer`);
    if (bytes === null) throw bad(`processes[${i}].bytes must be a non-negative integer`);
    if (typeof p.name !== 'string') throw bad(`processes[${i}].name must be a string`);
    if (typeof p.image !== 'string' || !isPlainFileName(p.image)) {
      throw bad(`processes[${i}].image must be a file name inside the generation folder`);
    }
    if (seen.has(p.image)) throw bad(`image ${p.image} is listed twice`);
    seen.add(p.image);
    const [ppid, pgid, sid] = ids(p, `processes[${i}]`);
    const refBytes = p.refBytes === undefined ? 0 : nonNegativeInt(p.refBytes);
    if (refBytes === null) throw bad(`processes[${i}].refBytes must be a non-negative integer`);
    return { procId, pid, ppid, pgid, sid, name: p.name, image: p.image, bytes, refBytes };
  });
  if (typeof raw.namespace !== 'boolean') throw bad('"namespace" must be true or false');
  if (!Array.isArray(raw.zombies)) throw bad('"zombies" must be an array');
  const zombies = raw.zombies.map((z: unknown, i: number): ManifestZombie => {
    if (!isObject(z)) throw bad(`zombies[${i}] is not an object`);
    const pid = nonNegativeInt(z.pid);
    if (pid === null || pid < 2) throw bad(`zombies[${i}].pid must be an integer above 1`);
    const [ppid, pgid, sid] = ids(z, `zombies[${i}]`);
    const status = nonNegativeInt(z.status);
    if (status === null || status > 0xffff) throw bad(`zombies[${i}].status must be a wait status (0..65535)`);
    return { pid, ppid, pgid, sid, status };
  });
  if (!Array.isArray(raw.semaphores)) throw bad('"semaphores" must be an array');
  const semaphores = raw.semaphores.map((s: unknown, i: number): ManifestSemaphore => {
    if (!isObject(s)) throw bad(`semaphores[${i}] is not an object`);
    const f = (k: string, max: number): number => {
      const v = nonNegativeInt(s[k]);
      if (v === null || v > max) throw bad(`semaphores[${i}].${k} must be an integer from 0 to ${max}`);
      return v;
    };
    const values = s.values;
    if (!Array.isArray(values) || values.length === 0 || values.length > 32000 || !values.every((x) => nonNegativeInt(x) !== null && (x as number) <= 32767)) {
      throw bad(`semaphores[${i}].values must be 1 to 32000 semaphore values (0..32767)`);
    }
    return { id: f('id', 0x7fffffff), key: f('key', 0xffffffff), mode: f('mode', 0o777), uid: f('uid', 0xffffffff), gid: f('gid', 0xffffffff), values: values as number[] };
  });
  if (new Set(semaphores.map((s) => s.id)).size !== semaphores.length) throw bad('a semaphore id is listed twice');
  if (!Array.isArray(raw.sharedSegments)) throw bad('"sharedSegments" must be an array');
  const sharedSegments = raw.sharedSegments.map((s: unknown, i: number): ManifestShmSeg => {
    if (!isObject(s)) throw bad(`sharedSegments[${i}] is not an object`);
    const f = (k: string, max: number): number => {
      const v = nonNegativeInt(s[k]);
      if (v === null || v > max) throw bad(`sharedSegments[${i}].${k} must be an integer from 0 to ${max}`);
      return v;
    };
    return { id: f('id', 0x7fffffff), key: f('key', 0xffffffff), mode: f('mode', 0o777), uid: f('uid', 0xffffffff), gid: f('gid', 0xffffffff), size: f('size', Number.MAX_SAFE_INTEGER) };
  });
  if (new Set(sharedSegments.map((s) => s.id)).size !== sharedSegments.length) throw bad('a shared memory segment id is listed twice');
  // Absent from manifests written before message queues and terminals were kept.
  const rawQueues = raw.messageQueues ?? [];
  if (!Array.isArray(rawQueues)) throw bad('"messageQueues" must be an array');
  const messageQueues = rawQueues.map((q: unknown, i: number): ManifestMsgQueue => {
    if (!isObject(q)) throw bad(`messageQueues[${i}] is not an object`);
    const f = (k: string, max: number): number => {
      const v = nonNegativeInt(q[k]);
      if (v === null || v > max) throw bad(`messageQueues[${i}].${k} must be an integer from 0 to ${max}`);
      return v;
    };
    return {
      id: f('id', 0x7fffffff), key: f('key', 0xffffffff), mode: f('mode', 0o777), uid: f('uid', 0xffffffff), gid: f('gid', 0xffffffff),
      qbytes: f('qbytes', Number.MAX_SAFE_INTEGER), messages: f('messages', 0xffffffff), bytes: f('bytes', Number.MAX_SAFE_INTEGER),
    };
  });
  if (new Set(messageQueues.map((q) => q.id)).size !== messageQueues.length) throw bad('a message queue id is listed twice');
  const rawTerminals = raw.terminals ?? [];
  if (!Array.isArray(rawTerminals)) throw bad('"terminals" must be an array');
  const terminals = rawTerminals.map((t: unknown, i: number): ManifestTerminal => {
    if (!isObject(t)) throw bad(`terminals[${i}] is not an object`);
    const pty = nonNegativeInt(t.pty);
    const sid = nonNegativeInt(t.sid);
    if (pty === null || pty > 0xffffffff) throw bad(`terminals[${i}].pty must be a pty number`);
    if (sid === null || sid < 2) throw bad(`terminals[${i}].sid must be a session id above 1`);
    const fg = t.foreground;
    if (typeof fg !== 'number' || !Number.isSafeInteger(fg) || fg < -1 || fg > 0x7fffffff) throw bad(`terminals[${i}].foreground must be a process group id or -1`);
    const pids = t.pids;
    if (!Array.isArray(pids) || pids.length === 0 || !pids.every((x) => nonNegativeInt(x) !== null && (x as number) >= 2)) {
      throw bad(`terminals[${i}].pids must list the processes it controls`);
    }
    return { pty, sid, foreground: fg, pids: pids as number[] };
  });
  if (new Set(terminals.map((t) => t.pty)).size !== terminals.length) throw bad('a terminal is listed twice');
  if (new Set(terminals.map((t) => t.sid)).size !== terminals.length) throw bad('a session has two controlling terminals');
  let sysvData: string | undefined;
  if (raw.sysvData !== undefined) {
    if (typeof raw.sysvData !== 'string' || !isPlainFileName(raw.sysvData)) throw bad('"sysvData" must be a file name inside the generation folder');
    sysvData = raw.sysvData;
  }
  if (messageQueues.some((q) => q.messages > 0) && sysvData === undefined) throw bad('message queues hold messages but "sysvData" names no file with them');
  const dependsOn = raw.dependsOn === undefined ? [] : raw.dependsOn;
  if (!Array.isArray(dependsOn) || !dependsOn.every((g) => nonNegativeInt(g) !== null && (g as number) >= 1 && (g as number) < generation)
    || new Set(dependsOn).size !== dependsOn.length) {
    throw bad('"dependsOn" must list distinct earlier generation numbers');
  }
  const pids = new Set<number>();
  for (const x of [...processes, ...zombies]) {
    if (pids.has(x.pid)) throw bad(`pid ${x.pid} is listed twice`);
    pids.add(x.pid);
  }
  return {
    format: MANIFEST_FORMAT, version: MANIFEST_VERSION, generation, ckptId, created: raw.created,
    namespace: raw.namespace, processes, zombies, semaphores, sharedSegments, messageQueues, terminals,
    ...(sysvData !== undefined ? { sysvData } : {}),
    dependsOn: (dependsOn as number[]).slice().sort((a, b) => a - b),
  };

  function ids(o: Record<string, unknown>, at: string): [number, number, number] {
    const out = (['ppid', 'pgid', 'sid'] as const).map((k) => {
      const v = nonNegativeInt(o[k]);
      if (v === null) throw bad(`${at}.${k} must be a non-negative integer`);
      return v;
    });
    return [out[0]!, out[1]!, out[2]!];
  }
}

/** A name that stays inside its folder: no separators, not `.` or `..`. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonNegativeInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}
