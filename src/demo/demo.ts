/**
 * `npm run demo`: the whole Stasis story in one run. A program is launched under Stasis,
 * checkpointed mid-run, killed with SIGKILL, and restarted; it carries on from the
 * checkpoint and its output file ends exactly as if it had never been interrupted.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const stasis = path.join(root, 'bin', 'stasis');

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `file` has at least `lines` lines, watching it rather than polling. */
function waitForLines(file: string, lines: number, child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (text.split('\n').length - 1 >= lines) {
        watcher.close();
        child.off('exit', onExit);
        resolve();
        return true;
      }
      return false;
    };
    const onExit = (): void => {
      if (!check()) {
        watcher.close();
        reject(new Error('the program ended before it printed enough'));
      }
    };
    const watcher = fs.watch(path.dirname(file), () => void check());
    child.once('exit', onExit);
    check();
  });
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
}

function run(args: string[]): string {
  const r = spawnSync(stasis, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`stasis ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function show(file: string, from = 0): number {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  for (const l of lines.slice(from)) process.stdout.write(`   | ${l}\n`);
  return lines.length;
}

/** How many lines of `out` the checkpointed process had written: its stdout offset. */
function checkpointedLines(gen: string, out: string): number {
  const parsed = JSON.parse(run(['inspect', '--json', gen])) as { images: { fds: { fd: number; offset: string }[] }[] };
  const stdout = parsed.images.flatMap((i) => i.fds).find((f) => f.fd === 1);
  const offset = Number(stdout?.offset ?? 0);
  return fs.readFileSync(out, 'utf8').slice(0, offset).split('\n').length - 1;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-demo-'));
  const prog = path.join(dir, 'counter');
  const out = path.join(dir, 'counter.out');
  const ckpt = path.join(dir, 'ckpt');
  const cc = spawnSync('gcc', ['-O1', '-o', prog, path.join(root, 'demo', 'counter.c')], { stdio: 'inherit' });
  if (cc.status !== 0) throw new Error('gcc could not build demo/counter.c');
  const port = String(await freePort());

  say(`stasis launch -- counter > ${path.basename(out)}`);
  const launched = spawn(stasis, ['launch', '--coord-port', port, '--ckpt-dir', ckpt, '--', prog], {
    stdio: ['ignore', fs.openSync(out, 'w'), 'inherit'],
  });
  await waitForLines(out, 5, launched);

  say('stasis checkpoint   (the program keeps running afterwards)');
  const gen = run(['checkpoint', '--coord-port', port]);
  const status = JSON.parse(run(['status', '--coord-port', port, '--json'])) as {
    lastCheckpoint?: { durationMs?: number; pauseMs?: number; bytes?: number };
    processes: { pid: number; hostPid: number }[];
  };
  const last = status.lastCheckpoint ?? {};
  process.stdout.write(`   saved ${gen} in ${last.durationMs ?? '?'} ms, ${((last.bytes ?? 0) / 1048576).toFixed(1)} MiB; the program was paused ${last.pauseMs ?? '?'} ms\n`);
  const atCheckpoint = checkpointedLines(gen, out);
  process.stdout.write(`   the checkpoint holds the program just after line ${atCheckpoint} of its output:\n`);
  let seen = show(out);
  await waitForLines(out, seen + 3, launched);

  say('kill -9: the program dies mid-run');
  process.kill(status.processes[0].hostPid, 'SIGKILL');
  await exited(launched);
  seen = show(out, seen);

  say(`stasis restart ${path.basename(ckpt)}   (it carries on from the checkpoint)`);
  const restarted = spawn(stasis, ['restart', '--coord-port', port, ckpt], { stdio: 'inherit' });
  const code = await exited(restarted);
  show(out, atCheckpoint);

  const reference = spawnSync(prog, { encoding: 'utf8' }).stdout;
  const same = reference === fs.readFileSync(out, 'utf8');
  say(same
    ? `exit status ${code}; the output file is byte-identical to an uninterrupted run's`
    : `exit status ${code}; the output DIFFERS from an uninterrupted run's`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (!same || code !== 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
