/*
 * Runs the program of `launch` (or the restore loader of `restart`) in the foreground:
 * stdio inherited, SIGINT/SIGTERM/SIGHUP forwarded, and our exit status is its status, or
 * 128 + the signal number when a signal killed it (the shell convention).
 */

import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { errnoCode, StasisError } from '../errors';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** `fd3`: text the child reads on its fd 3 (stasis-init's restart plan). */
export function runForeground(file: string, args: string[], env: NodeJS.ProcessEnv, fd3?: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(file, args, { stdio: fd3 === undefined ? 'inherit' : ['inherit', 'inherit', 'inherit', 'pipe'], env });
    if (fd3 !== undefined) {
      const pipe = child.stdio[3] as NodeJS.WritableStream | null;
      pipe?.on('error', () => { /* it exited early: its status says why */ });
      pipe?.end(fd3);
    }
    const forward = (sig: NodeJS.Signals): void => {
      child.kill(sig);
    };
    for (const sig of FORWARDED) process.on(sig, forward);
    const cleanup = (): void => {
      for (const sig of FORWARDED) process.off(sig, forward);
    };
    child.once('error', (err) => {
      cleanup();
      const code = errnoCode(err);
      const why = code === 'ENOENT' ? 'no such program' : code === 'EACCES' ? 'permission denied' : err.message;
      reject(new StasisError('EXEC', `cannot run ${file}: ${why} — check the program name and PATH`));
    });
    child.once('exit', (code, signal) => {
      cleanup();
      if (signal) resolve(128 + (os.constants.signals[signal] ?? 0));
      else resolve(code ?? 1);
    });
  });
}
