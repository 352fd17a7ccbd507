/*
 * `stasis checkpoint`: checkpoint every process of the coordinator. Prints the generation
 * folder on stdout (one line per checkpoint directory), and a summary on stderr:
 *
 *   stasis: paused 12.3 ms; complete in 842 ms: 2 processes, 1073750016 bytes
 *   stasis: not forked: process app (pid 7): memory pressure: ...
 *
 * one `not forked` line for each process whose image was written while it was paused.
 * `--json` prints the coordinator's whole answer on stdout instead (docs/protocol.md).
 */

import { expectOk, sendRequest } from '../client/client';
import { JsonObject } from '../protocol/messages';
import { CommandSpec, flag, ParsedArgs } from './args';
import { Command, coordAddressIPv4 } from './common';

const spec: CommandSpec = {
  name: 'checkpoint',
  summary: 'Checkpoint every process connected to the coordinator and print the new generation folder.',
  usage: '[--full] [--json] [--coord-port N]',
  details:
    'Returns once the images are durable. On stderr: "stasis: paused P ms; complete in D ms: N processes,\n' +
    'B bytes", and "stasis: not forked: process NAME (pid PID): REASON" for each process whose image\n' +
    'was written while it was paused.',
  options: [
    { name: 'full', help: 'store every page: refer to no earlier generation (incremental checkpoints)' },
    { name: 'json', help: 'print the coordinator\'s answer as JSON instead (pauseMs, durationMs, notForked, ...)' },
  ],
  maxPositionals: 0,
};

function showProgress(p: JsonObject): void {
  const n = typeof p.processes === 'number' ? ` (${p.processes} processes)` : '';
  const g = typeof p.generation === 'string' ? ` ${p.generation}` : '';
  const ms = typeof p.pauseMs === 'number' ? ` after a pause of ${p.pauseMs} ms` : '';
  process.stderr.write(`stasis: ${String(p.phase ?? 'working')}${n}${g}${ms}\n`);
}

/** The summary lines of a checkpoint's answer (see the top of this file). */
export function checkpointSummary(body: JsonObject): string {
  const lines = [`stasis: paused ${Number(body.pauseMs ?? 0)} ms; complete in ${Number(body.durationMs ?? 0)} ms: ${Number(body.processes ?? 0)} processes, ${Number(body.bytes ?? 0)} bytes\n`];
  for (const n of Array.isArray(body.notForked) ? (body.notForked as JsonObject[]) : []) {
    lines.push(`stasis: not forked: process ${String(n.name)} (pid ${Number(n.pid)}): ${String(n.reason)}\n`);
  }
  return lines.join('');
}

async function run(args: ParsedArgs): Promise<number> {
  const addr = await coordAddressIPv4(spec, args);
  const json = flag(args, 'json');
  const request: JsonObject = flag(args, 'full') ? { cmd: 'checkpoint', full: true } : { cmd: 'checkpoint' };
  const body = expectOk(await sendRequest(addr, request, { onProgress: process.stderr.isTTY && !json ? showProgress : undefined }));
  if (json) {
    process.stdout.write(`${JSON.stringify(body)}\n`);
    return 0;
  }
  const gens = Array.isArray(body.generations) ? body.generations : [body.generation];
  for (const g of gens) process.stdout.write(`${String(g)}\n`);
  process.stderr.write(checkpointSummary(body));
  return 0;
}

export const checkpointCommand: Command = { spec, run };
