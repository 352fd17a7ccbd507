/*
 * Presentations of a parsed image: the JSON form (used by `stasis inspect --json` and by the
 * image vector expectations in test/vectors/image/) and the text report of `stasis inspect`.
 *
 * JSON form: the ParsedImage objects with u64/i64 values as decimal strings, byte fields as
 * lowercase hex strings, and names added beside numeric kinds (`kindName`).
 */

import {
  fdKindName, ImageFd, ImageRegion, LOCK_EOF, LOCK_KINDS, ITIMER_NAMES, ParsedImage, PROC_STATE_CHILD_SUBREAPER, REG_RIP, REG_RSP, regionKindName,
  SHARE_OWNER, SHARE_PIPE, SHARE_PIPE_OWNER, SHARE_PTY, SHARE_PTY_CTTY, SHARE_PTY_OWNER, SIGEV_NAMES, THREAD_CKPT, THREAD_LEADER, THREAD_STATE_NO_NEW_PRIVS,
  REGION_GROWSDOWN, REGION_HUGEPAGE, REGION_NOHUGEPAGE, REGION_SHARED, ChunkEncoding,
} from './format';
import { describeIncremental } from './incr';

export function toJsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x);
    return out;
  }
  return v;
}

export function imageToJson(img: ParsedImage): Record<string, unknown> {
  return toJsonValue({
    ...img,
    regions: img.regions.map((r) => ({ ...r, kindName: regionKindName(r.kind) })),
    fds: img.fds.map((f) => ({ ...f, kindName: fdKindName(f.kind) })),
  }) as Record<string, unknown>;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function protString(prot: number, flags: number): string {
  return `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}${flags & REGION_SHARED ? 's' : 'p'}`;
}

/** Bytes of memory the chunks and PAGES records save of each region (chunks may span adjacent regions). */
function storedPerRegion(img: ParsedImage): Map<ImageRegion, bigint> {
  const out = new Map<ImageRegion, bigint>(img.regions.map((r) => [r, 0n]));
  for (const c of img.chunks) {
    const cEnd = c.addr + c.rawLen;
    for (const r of img.regions) {
      const lo = r.start > c.addr ? r.start : c.addr;
      const hi = r.end < cEnd ? r.end : cEnd;
      if (hi > lo) out.set(r, out.get(r)! + (hi - lo));
    }
  }
  for (const g of img.incremental?.pages ?? []) {
    for (const a of g.addrs) {
      const r = img.regions.find((x) => x.start <= a && a < x.end);
      if (r) out.set(r, out.get(r)! + BigInt(img.info.pageSize));
    }
  }
  return out;
}

function table(rows: string[][], indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

function seconds(ns: bigint): string {
  return `${(Number(ns) / 1e9).toFixed(3)} s`;
}

/** "SIGRTMIN+2 SI_QUEUE value 1" for a 128-byte siginfo. */
export function describeSiginfo(si: Buffer): string {
  const sig = si.readInt32LE(0);
  const code = si.readInt32LE(8);
  const std = ['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM',
    'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS'];
  const name = sig >= 34 ? `SIGRTMIN+${sig - 34}` : sig <= 31 ? `SIG${std[sig - 1]}` : `signal ${sig}`;
  const codes: { [c: number]: string } = { 0: 'SI_USER', 128: 'SI_KERNEL', [-1]: 'SI_QUEUE', [-2]: 'SI_TIMER', [-6]: 'SI_TKILL' };
  const value = code === -1 || code === -2 ? ` value 0x${si.readBigUInt64LE(24).toString(16)}` : '';
  return `${name} ${codes[code] ?? `code ${code}`}${value}`;
}

function cpuList(mask: Buffer): string {
  const cpus: number[] = [];
  for (let i = 0; i < mask.length * 8; i++) if (mask[i >> 3]! & (1 << (i & 7))) cpus.push(i);
  return cpus.length ? cpus.join(',') : '-';
}

function kernelState(img: ParsedImage): string[] {
  const lines: string[] = [];
  const ps = img.procState;
  if (ps) {
    const flags = [ps.flags & PROC_STATE_CHILD_SUBREAPER ? 'subreaper' : ''].filter(Boolean);
    lines.push(`kernel   personality 0x${ps.personality.toString(16)}, dumpable ${ps.dumpable}${flags.length ? `, ${flags.join(', ')}` : ''}`);
    lines.push(`  clocks realtime ${seconds(ps.realtimeNs)}, monotonic ${seconds(ps.monotonicNs)}, boottime ${seconds(ps.boottimeNs)}`);
    const armed = ps.itimers.map((t, i) => (t.valueNs ? `${ITIMER_NAMES[i]} in ${seconds(t.valueNs)}${t.intervalNs ? ` every ${seconds(t.intervalNs)}` : ''}` : ''));
    lines.push(`  itimer ${armed.filter(Boolean).join('; ') || 'none'}`);
    lines.push(`  shared pending signals: ${ps.siginfo.map(describeSiginfo).join('; ') || 'none'}`);
  }
  if (img.threadStates.length) {
    lines.push('', `thread state (${img.threadStates.length})`);
    lines.push(...table([
      ['TID', 'NAME', 'NICE', 'SLACK', 'CPUS', 'FLAGS', 'PENDING'],
      ...img.threadStates.map((t) => [
        String(t.tid), t.comm, String(t.nice), `${t.timerSlackNs} ns`, cpuList(t.affinity),
        [t.flags & THREAD_STATE_NO_NEW_PRIVS ? 'no_new_privs' : '', t.pdeathsig ? `pdeathsig ${t.pdeathsig}` : ''].filter(Boolean).join(',') || '-',
        t.siginfo.map(describeSiginfo).join('; ') || '-',
      ]),
    ]));
  }
  if (img.posixTimers.length) {
    lines.push('', `POSIX timers (${img.posixTimers.length})`);
    lines.push(...table([
      ['ID', 'CLOCK', 'NOTIFY', 'SIGNAL', 'VALUE', 'REMAINING', 'INTERVAL'],
      ...img.posixTimers.map((t) => [
        String(t.timerId), String(t.clockid), (SIGEV_NAMES[t.notify] ?? String(t.notify)) + (t.notify === 4 ? ` ${t.notifyTid}` : ''),
        String(t.signo), hex(t.sigevValue), t.valueNs ? seconds(t.valueNs) : 'disarmed', t.intervalNs ? seconds(t.intervalNs) : '-',
      ]),
    ]));
  }
  if (img.semUndo.length) {
    lines.push('', `SEM_UNDO adjustments (${img.semUndo.length} semaphore sets)`);
    for (const u of img.semUndo) lines.push(`  set ${u.semid}: ${u.adj.map((e) => `#${e.num} ${e.adj > 0 ? '+' : ''}${e.adj}`).join(', ')}`);
  }
  return lines.length ? ['', ...lines] : [];
}

export function describeImage(img: ParsedImage): string {
  const { info, process: p } = img;
  const created = new Date(Number(info.createdUnixNs / 1000000n)).toISOString();
  const lines: string[] = [];
  lines.push(`image    ${img.path}`);
  lines.push(`format   version ${img.version}, ${img.end.records + 1n} records${img.verified ? ', chunk data verified' : ''}`);
  lines.push(`created  ${created} on ${info.hostname} (checkpoint ${info.ckptId})`);
  lines.push(`machine  ${info.machine}, kernel ${info.kernelRelease} ${info.kernelVersion}, glibc ${info.glibcVersion}, stasis ${info.stasisVersion}, page ${info.pageSize}`);
  lines.push('');
  lines.push(`process  pid ${p.pid} (ppid ${p.ppid}, pgid ${p.pgid}, sid ${p.sid}, procId ${p.procId}) ${p.comm}`);
  lines.push(`  exe    ${p.exe}`);
  lines.push(`  cwd    ${p.cwd}`);
  lines.push(`  uid    ${p.uid} gid ${p.gid} umask ${p.umask.toString(8).padStart(4, '0')}`);
  lines.push(`  brk    ${hex(p.brk)} (heap starts ${hex(p.startBrk)})`);
  lines.push('');
  const stored = storedPerRegion(img);
  lines.push(`memory map (${img.regions.length} regions)`);
  lines.push(...table([
    ['START-END', 'PROT', 'KIND', 'SAVED', 'PATH'],
    ...img.regions.map((r) => [
      `${r.start.toString(16).padStart(12, '0')}-${r.end.toString(16).padStart(12, '0')}`,
      protString(r.prot, r.flags),
      regionKindName(r.kind) + (r.flags & REGION_GROWSDOWN ? ' (grows down)' : '') +
        (r.flags & REGION_HUGEPAGE ? ' (huge pages)' : '') + (r.flags & REGION_NOHUGEPAGE ? ' (no huge pages)' : ''),
      formatBytes(Number(stored.get(r) ?? 0n)),
      r.path,
    ]),
  ]));
  lines.push('');
  lines.push(`threads (${img.threads.length})`);
  lines.push(...table([
    ['TID', 'FLAGS', 'RIP', 'RSP'],
    ...img.threads.map((t) => {
      const flags = [t.flags & THREAD_LEADER ? 'leader' : '', t.flags & THREAD_CKPT ? 'ckpt' : ''].filter(Boolean).join(',') || '-';
      const reg = (i: number): string => (t.gregs.length > i ? hex(t.gregs[i]!) : '-');
      return [String(t.tid), flags, reg(REG_RIP), reg(REG_RSP)];
    }),
  ]));
  lines.push('');
  lines.push(`fds (${img.fds.length})`);
  lines.push(...table([
    ['FD', 'KIND', 'OFFSET', 'SHARED', 'LOCKS', 'PATH'],
    ...img.fds.map((f) => [String(f.fd), fdKindName(f.kind), String(f.offset), describeShare(f), describeLocks(f), f.path]),
  ]));
  lines.push(...kernelState(img));
  lines.push('');
  if (img.fileData.length > 0) {
    const ids = new Set(img.fileData.map((d) => d.fileId));
    const bytes = img.fileData.reduce((s, d) => s + d.len, 0);
    lines.push(`files    ${ids.size} deleted file(s) stored: ${img.fileData.length} FILEDATA records, ${formatBytes(bytes)} (${bytes} bytes)`);
  }
  const storedTotal = img.chunks.reduce((s, c) => s + c.storedLen, 0);
  const rawTotal = Number(img.chunks.reduce((s, c) => s + c.rawLen, 0n));
  const zstd = img.chunks.filter((c) => c.encoding !== ChunkEncoding.RAW).length;
  const shuffled = img.chunks.filter((c) => c.encoding === ChunkEncoding.SHUF8_ZSTD).length;
  const ratio = rawTotal ? ` (${Math.round((storedTotal / rawTotal) * 100)}%)` : '';
  lines.push(
    `totals   ${img.chunks.length} chunks (${zstd} zstd${shuffled ? `, ${shuffled} of them byte-shuffled` : ''}): ${formatBytes(rawTotal)} of memory stored in ${formatBytes(storedTotal)}${ratio}, ` +
      `${storedTotal} bytes; file ${formatBytes(img.fileSize)} (${img.fileSize} bytes)`,
  );
  lines.push(...describeIncremental(img, formatBytes));
  if (img.unknownRecords.length > 0) lines.push(`note     ${img.unknownRecords.length} records of unknown types were skipped`);
  return lines.join('\n');
}

/** What other processes hold of an fd: "-", "owner", "from 4/1" (the owner pid/fd), "pipe", "pipe owner". */
function describeShare(f: ImageFd): string {
  const s = f.share;
  if (!s) return '-';
  const parts: string[] = [];
  if (s.shareId !== 0n) {
    parts.push((s.flags & SHARE_OWNER) !== 0 ? 'owner' : `from ${s.shareId >> 32n}/${s.shareId & 0xffffffffn}`);
  }
  if ((s.flags & SHARE_PIPE) !== 0) parts.push((s.flags & SHARE_PIPE_OWNER) !== 0 ? 'pipe owner' : 'pipe');
  if ((s.flags & SHARE_PTY) !== 0) parts.push((s.flags & SHARE_PTY_OWNER) !== 0 ? 'pty owner' : 'pty');
  if ((s.flags & SHARE_PTY_CTTY) !== 0) parts.push('controlling terminal');
  return parts.join(', ') || '-';
}

/** "flock W", "posix R 10-19", "ofd W 0-EOF" for each lock held through the fd. */
function describeLocks(f: ImageFd): string {
  return (f.locks ?? []).map((l) => {
    const range = l.kind === 1 ? '' : ` ${l.start}-${l.end === LOCK_EOF ? 'EOF' : l.end}`;
    return `${(LOCK_KINDS[l.kind] ?? '?').toLowerCase()} ${l.type === 2 ? 'W' : 'R'}${range}`;
  }).join(', ') || '-';
}
