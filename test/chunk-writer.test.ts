/*
 * The agent's chunk writer (native/agent/chunk-writer.c) in a copy of a process made by a
 * raw clone(), as a forked checkpoint's writer runs: native/build/chunk-writer-check
 * writes the same memory with worker threads there and without them here, requires the
 * same bytes, and ends the copy if the writer calls malloc, free or pthread_create.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { nativeBuildDir } from '../src/native/paths';

const TOOL = path.join(nativeBuildDir(), 'chunk-writer-check');

test('the chunk writer writes the same image with workers in a raw-cloned copy, without malloc', { skip: fs.existsSync(TOOL) ? false : `${TOOL} is not built (run \`make -C native\`)` }, () => {
  const r = spawnSync(TOOL, [], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `chunk-writer-check: status ${r.status}, signal ${r.signal}: ${r.stderr}`);
  assert.match(r.stdout, /^ok: \d+ bytes of memory in \d+ stored \(\d+ chunks raw, [1-9]\d* zstd, [1-9]\d* shuffled\).*shuffle8 round trips/);
});
