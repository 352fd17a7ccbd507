/* `stasis checkpoint`: checkpoint every process of the coordinator; print the generation. */

import { expectOk, sendRequest } from '../client/client';
import { JsonObject } from '../protocol/messages';
import { CommandSpec, flag, ParsedArgs } from './args';
import { Command, coordAddressIPv4 } from './common';

const spec: CommandSpec = {
  name: 'checkpoint',
  summary: 'Checkpoint every process connected to the coordinator and print the new generation folder.',
  usage: '[--full] [--coord-port N]',
  options: [{ name: 'full', help: 'store every page: refer to no earlier generation (incremental checkpoints)' }],
  maxPositionals: 0,
};

function showProgress(p: JsonObject): void {
  const n = typeof p.processes === 'number' ? ` (${p.processes} processes)` : '';
  const g = typeof p.generation === 'string' ? ` ${p.generation}` : '';
  process.stderr.write(`stasis: ${String(p.phase ?? 'working')}${n}${g}\n`);
}

async function run(args: ParsedArgs): Promise<number> {
  const addr = await coordAddressIPv4(spec, args);
  const body = expectOk(await sendRequest(addr, flag(args, 'full') ? { cmd: 'checkpoint', full: true } : { cmd: 'checkpoint' }, { onProgress: process.stderr.isTTY ? showProgress : undefined }));
  const gens = Array.isArray(body.generations) ? body.generations : [body.generation];
  for (const g of gens) process.stdout.write(`${String(g)}\n`);
  return 0;
}

export const checkpointCommand: Command = { spec, run };
