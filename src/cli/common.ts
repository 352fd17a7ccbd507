/* What the subcommands share: the command shape and the coordinator / ckpt-dir options. */

import * as path from 'node:path';
import { CoordAddress, resolveIPv4 } from '../client/client';
import { DEFAULT_COORD_HOST, DEFAULT_COORD_PORT } from '../protocol/address';
import { CommandSpec, ParsedArgs, parseIntArg, stringOption } from './args';

export interface Command {
  spec: CommandSpec;
  /** Resolves with the exit status; throws StasisError for the user to read. */
  run(args: ParsedArgs): Promise<number>;
}

export const CKPT_DIR_OPTION = {
  name: 'ckpt-dir',
  value: 'DIR',
  help: 'checkpoint directory (env STASIS_CKPT_DIR, default ./stasis-ckpt)',
};

/** --coord-host/--coord-port, then STASIS_COORD_HOST/STASIS_COORD_PORT, then the defaults. */
export function coordTarget(spec: CommandSpec, args: ParsedArgs): CoordAddress {
  const host = stringOption(args, 'coord-host') ?? nonEmpty(process.env.STASIS_COORD_HOST) ?? DEFAULT_COORD_HOST;
  const rawPort = stringOption(args, 'coord-port');
  const envPort = nonEmpty(process.env.STASIS_COORD_PORT);
  let port = DEFAULT_COORD_PORT;
  if (rawPort !== undefined) port = parseIntArg(spec, rawPort, '--coord-port', 1, 65535);
  else if (envPort !== undefined) port = parseIntArg(spec, envPort, 'STASIS_COORD_PORT', 1, 65535);
  return { host, port };
}

/** The coordinator address with the host resolved to an IPv4 literal. */
export async function coordAddressIPv4(spec: CommandSpec, args: ParsedArgs): Promise<CoordAddress> {
  const t = coordTarget(spec, args);
  return { host: await resolveIPv4(t.host), port: t.port };
}

/** Absolute checkpoint directory from --ckpt-dir, STASIS_CKPT_DIR or ./stasis-ckpt. */
export function ckptDirFrom(args: ParsedArgs): string {
  return path.resolve(stringOption(args, 'ckpt-dir') ?? nonEmpty(process.env.STASIS_CKPT_DIR) ?? 'stasis-ckpt');
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
