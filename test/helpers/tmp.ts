/* Temporary directories for tests, removed when the test ends. */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestContext } from 'node:test';

export function tmpDir(t: TestContext, prefix = 'stasis-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
