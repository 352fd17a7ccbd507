/* `stasis shutdown`: stop the coordinator (its processes lose their connection). */

import { expectOk, formatAddress, sendRequest } from '../client/client';
import { CommandSpec, ParsedArgs } from './args';
import { Command, coordAddressIPv4 } from './common';

const spec: CommandSpec = {
  name: 'shutdown',
  summary: 'Stop the coordinator.',
  usage: '',
  options: [],
  maxPositionals: 0,
};

async function run(args: ParsedArgs): Promise<number> {
  const addr = await coordAddressIPv4(spec, args);
  expectOk(await sendRequest(addr, { cmd: 'shutdown' }));
  process.stdout.write(`coordinator at ${formatAddress(addr)} is shutting down\n`);
  return 0;
}

export const shutdownCommand: Command = { spec, run };
