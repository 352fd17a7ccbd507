/*
 * The pid a process has on this machine, from the pid it has in its computation's PID
 * namespace (which is all its agent knows): a scan of /proc for the process whose PID
 * namespace is that one (`/proc/N/ns/pid`) and whose innermost pid (NSpid) is that pid.
 * For `stasis status`, so that a user can `kill` or `top` a process. Processes of another
 * machine, or of another user, are not found (0).
 */

import * as fs from 'node:fs';

/** `pidns` inode → (pid in that namespace → host pid), for every process we may look at. */
export function scanHostPids(): Map<bigint, Map<number, number>> {
  const out = new Map<bigint, Map<number, number>>();
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ns = /^pid:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${name}/ns/pid`));
      if (!ns) continue;
      const line = fs.readFileSync(`/proc/${name}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
      const inner = line ? Number(line.slice(6).trim().split(/\s+/).pop()) : NaN;
      if (!Number.isInteger(inner)) continue;
      const ino = BigInt(ns[1]!);
      let m = out.get(ino);
      if (!m) out.set(ino, (m = new Map()));
      m.set(inner, Number(name));
    } catch {
      // gone meanwhile, or not ours to look at
    }
  }
  return out;
}
