/*
 * Where the C half lives. Paths are derived from this file's location, not the current
 * directory: compiled, this is <root>/dist/src/native/paths.js, and the native build is
 * <root>/native/build/ (package.json "files" ships both).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { StasisError } from '../errors';

export type NativeFile = 'agent' | 'restorer' | 'init';

const FILE_NAMES: { readonly [K in NativeFile]: string } = {
  agent: 'libstasis.so',
  restorer: 'stasis-restore',
  init: 'stasis-init',
};

/** The package root (holds package.json, bin/, dist/, native/). */
export function packageRoot(): string {
  return path.resolve(__dirname, '..', '..', '..');
}

export function nativeBuildDir(): string {
  return path.join(packageRoot(), 'native', 'build');
}

/** Absolute path of a native file, without checking that it exists. */
export function nativePath(which: NativeFile): string {
  return path.join(nativeBuildDir(), FILE_NAMES[which]);
}

/** Absolute path of a native file; a StasisError when it has not been built. */
export function requireNative(which: NativeFile): string {
  const p = nativePath(which);
  try {
    fs.accessSync(p, which !== 'agent' ? fs.constants.X_OK : fs.constants.R_OK);
  } catch {
    throw new StasisError('NATIVE_MISSING', `native part not built (${p} is missing) — run npm ci`);
  }
  return p;
}

/** The compiled CLI entry point, for re-spawning stasis itself (detached coordinators). */
export function cliEntryPoint(): string {
  return path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
}
