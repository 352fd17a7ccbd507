/* `stasis status`: the coordinator's processes and last checkpoint. */

import { expectOk, sendRequest } from '../client/client';
import { formatBytes } from '../image/describe';
import { CommandSpec, flag, ParsedArgs } from './args';
import { Command, coordAddressIPv4 } from './common';

const spec: CommandSpec = {
  name: 'status',
  summary: 'Show the processes connected to the coordinator and its last checkpoint.',
  details: 'PID is the pid inside the computation\'s own PID namespace (what the program sees); HOSTPID the\n' +
    'same process on this machine, for kill, top or gdb.',
  usage: '[--json]',
  options: [{ name: 'json', help: 'print the coordinator\'s answer as JSON' }],
  maxPositionals: 0,
};

interface StatusProcess {
  procId: number;
  pid: number;
  /** Its pid on this machine (the coordinator's), 0 if not known. */
  hostPid: number;
  name: string;
  hostname: string;
  state: string;
  restarted: boolean;
}

async function run(args: ParsedArgs): Promise<number> {
  const addr = await coordAddressIPv4(spec, args);
  const body = expectOk(await sendRequest(addr, { cmd: 'status' }));
  if (flag(args, 'json')) {
    process.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return 0;
  }
  const c = (body.coordinator ?? {}) as { host?: string; port?: number; pid?: number; keep?: number; intervalSec?: number };
  const procs = (Array.isArray(body.processes) ? body.processes : []) as StatusProcess[];
  const out: string[] = [];
  out.push(`coordinator ${c.host}:${c.port} (pid ${c.pid}), keep ${c.keep}, interval ${c.intervalSec ? `${c.intervalSec} s` : 'off'}${body.checkpointRunning ? ', checkpoint running' : ''}`);
  if (procs.length === 0) {
    out.push('no processes');
  } else {
    const rows = [['PROCID', 'PID', 'HOSTPID', 'NAME', 'HOST', 'STATE', 'RESTARTED'],
      ...procs.map((p) => [String(p.procId), String(p.pid), p.hostPid ? String(p.hostPid) : '-', p.name, p.hostname, p.state, p.restarted ? 'yes' : 'no'])];
    const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) out.push(r.map((cell, i) => cell.padEnd(w[i]!)).join('  ').trimEnd());
  }
  const last = body.lastCheckpoint as { generation?: string; ckptId?: number; durationMs?: number; pauseMs?: number; bytes?: number; finishedAt?: string } | null;
  if (last) {
    out.push(`last checkpoint ${last.generation} (checkpoint ${last.ckptId}, paused ${last.pauseMs ?? 0} ms, complete in ${last.durationMs} ms, ${formatBytes(last.bytes ?? 0)}) at ${last.finishedAt}`);
  } else {
    out.push('no checkpoint yet');
  }
  const err = body.lastError as { message?: string; at?: string } | null;
  if (err) out.push(`last failure at ${err.at}: ${err.message}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

export const statusCommand: Command = { spec, run };
