/* `stasis inspect`: show what an image (or every image of a generation) holds. */

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { resolveGeneration } from '../ckpt-dir/resolve';
import { errnoCode, StasisError } from '../errors';
import { generationName } from '../ckpt-dir/generations';
import { describeImage, formatBytes, imageToJson } from '../image/describe';
import { readImage } from '../image/reader';
import { CommandSpec, flag, ParsedArgs, usageError } from './args';
import { Command } from './common';

const spec: CommandSpec = {
  name: 'inspect',
  summary: 'Show the contents of an image file, or of every image of a generation.',
  usage: '[--json] [--verify] IMAGE|GENERATION-DIR|CKPT-DIR',
  details: 'A checkpoint directory means its latest generation. Record checksums are always checked;\n--verify also checks the memory data (reads the whole image).',
  options: [
    { name: 'json', help: 'print JSON (u64 values as decimal strings)' },
    { name: 'verify', help: 'also verify the checksums of the memory chunks' },
  ],
  maxPositionals: 1,
};

async function run(args: ParsedArgs): Promise<number> {
  const target = args.positionals[0];
  if (target === undefined) throw usageError(spec, 'name an image file or a generation folder to inspect');
  const verify = flag(args, 'verify');
  const json = flag(args, 'json');
  let st;
  try {
    st = await fsp.stat(target);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new StasisError('NO_CHECKPOINT', `${path.resolve(target)} does not exist — pass an image file or a generation folder`);
    throw err;
  }
  if (st.isFile()) {
    const img = await readImage(path.resolve(target), { verify });
    process.stdout.write(json ? JSON.stringify(imageToJson(img), null, 2) + '\n' : describeImage(img) + '\n');
    return 0;
  }
  const gen = await resolveGeneration(target);
  const images = [];
  for (const i of gen.images) images.push(await readImage(i.path, { verify }));
  if (json) {
    process.stdout.write(JSON.stringify({ generation: { path: gen.path, ...gen.manifest }, images: images.map(imageToJson) }, null, 2) + '\n');
    return 0;
  }
  const m = gen.manifest;
  const parts = [`generation ${gen.path} (number ${m.generation}, checkpoint ${m.ckptId}, created ${m.created}, ${m.processes.length} processes)`];
  const deps = m.dependsOn ?? [];
  if (deps.length > 0) {
    const bytes = m.processes.reduce((s, p) => s + p.bytes, 0);
    const referred = m.processes.reduce((s, p) => s + (p.refBytes ?? 0), 0);
    parts[0] += `\nincremental: ${formatBytes(bytes)} of images, ${formatBytes(referred)} of memory referred to in generation(s) ${deps.map(generationName).join(', ')}, which are kept while this one is`;
  }
  for (const img of images) parts.push(describeImage(img));
  process.stdout.write(parts.join('\n\n') + '\n');
  return 0;
}

export const inspectCommand: Command = { spec, run };
