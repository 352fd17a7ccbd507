/* `stasis kill`: tell every process of the coordinator to exit. */

import { expectOk, sendRequest } from '../client/client';
import { CommandSpec, ParsedArgs } from './args';
import { Command, coordAddressIPv4 } from './common';

const spec: CommandSpec = {
  name: 'kill',
  summary: 'Send KILL to every process connected to the coordinator.',
  usage: '',
  options: [],
  maxPositionals: 0,
};

async function run(args: ParsedArgs): Promise<number> {
  const addr = await coordAddressIPv4(spec, args);
  const body = expectOk(await sendRequest(addr, { cmd: 'kill' }));
  process.stdout.write(`sent KILL to ${String(body.killed)} processes\n`);
  return 0;
}

export const killCommand: Command = { spec, run };
