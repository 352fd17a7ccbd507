/*
 * `launch` and `restart` against a coordinator that exits when idle: the probe they send
 * before starting their process (status with expectAgent) holds it open until that process
 * joins; one that is already shutting down is told apart from another program on the
 * port, and replaced. Without this, the last process leaving just as `stasis restart`
 * probed gave "port N is in use by another program", or a restored process with no
 * coordinator.
 */

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test, TestContext } from 'node:test';
import { probeCoordinator, sendRequest } from '../src/client/client';
import { ensureCoordinator } from '../src/client/ensure-coordinator';
import { Coordinator } from '../src/coordinator/coordinator';
import { RunningServer, ServerOptions, startCoordinatorServer } from '../src/coordinator/net-server';
import { StasisError } from '../src/errors';
import { JsonObject } from '../src/protocol/messages';
import { FakeAgent } from './helpers/fake-agent';
import { tmpDir } from './helpers/tmp';

interface LoggedServer extends RunningServer {
  logs: string[];
  /** Resolves once a log line matches. */
  logged(pattern: RegExp): Promise<void>;
}

async function server(t: TestContext, opts: ServerOptions = {}): Promise<LoggedServer> {
  const logs: string[] = [];
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const log = (line: string): void => {
    logs.push(line);
    for (const w of waiters.filter((w) => w.pattern.test(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  const s = await startCoordinatorServer({ port: 0, log, ...opts });
  t.after(() => s.close());
  const logged = (pattern: RegExp): Promise<void> =>
    logs.some((l) => pattern.test(l)) ? Promise.resolve() : new Promise((resolve) => waiters.push({ pattern, resolve }));
  return Object.assign(s, { logs, logged });
}

async function agent(t: TestContext, s: RunningServer, pid: number): Promise<FakeAgent> {
  const a = await FakeAgent.connect({ port: s.port, pid, ckptDir: tmpDir(t) });
  t.after(() => a.kill());
  return a;
}

test('an expectAgent probe keeps an idle-exiting coordinator up until the announced process has come and gone', async (t) => {
  const s = await server(t, { exitWhenIdle: true });
  let closed = false;
  void s.closed.then(() => (closed = true));
  const first = await agent(t, s, 2101);
  const probe = await probeCoordinator({ host: '127.0.0.1', port: s.port }, { expectAgent: true });
  assert.equal(probe, 'stasis');
  first.kill();
  await s.logged(/pid 2101.* disconnected/);
  const st = await sendRequest({ host: '127.0.0.1', port: s.port }, { cmd: 'status' });
  assert.deepEqual(st.processes, []);
  assert.equal(closed, false, 'it exited although a process was announced');
  const second = await agent(t, s, 2102);
  second.kill();
  await s.closed;
  assert.ok(s.logs.some((l) => l.includes('last process gone; exiting')), s.logs.join('\n'));
});

test('a plain status does not hold the coordinator', async (t) => {
  const s = await server(t, { exitWhenIdle: true });
  const a = await agent(t, s, 2201);
  await probeCoordinator({ host: '127.0.0.1', port: s.port });
  a.kill();
  await s.closed;
});

test('an announced process that never comes: the hold ends after firstAgentTimeoutMs', async (t) => {
  const s = await server(t, { exitWhenIdle: true, firstAgentTimeoutMs: 100 });
  const a = await agent(t, s, 2301);
  await probeCoordinator({ host: '127.0.0.1', port: s.port }, { expectAgent: true });
  a.kill();
  await s.closed;
  assert.ok(s.logs.some((l) => l.includes('did not connect within')), s.logs.join('\n'));
});

test('a coordinator that is shutting down answers an expectAgent probe with SHUTDOWN', async () => {
  const c = new Coordinator({ exitWhenIdle: true });
  c.start();
  c.stop();
  const answers: JsonObject[] = [];
  await c.request({ cmd: 'status', expectAgent: true }, { progress: () => undefined, respond: (b) => answers.push(b) });
  assert.deepEqual([answers[0]!.ok, answers[0]!.code], [false, 'SHUTDOWN']);
});

/** A listener that hangs up on the first `hangups` connections, then stops listening, as an exiting coordinator does. */
async function exitingListener(t: TestContext, hangups: number): Promise<number> {
  let seen = 0;
  const server = net.createServer((socket) => {
    socket.destroy();
    if (++seen >= hangups) server.close();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

test('ensureCoordinator replaces a coordinator that hangs up on its way out', async (t) => {
  const port = await exitingListener(t, 1);
  const addr = { host: '127.0.0.1', port };
  const r = await ensureCoordinator({ addr, logFile: null });
  t.after(() => sendRequest(addr, { cmd: 'shutdown' }).catch(() => undefined));
  assert.equal(r.started, true);
  assert.equal(await probeCoordinator(addr), 'stasis');
});

test('a program that always hangs up is still another program on the port', async (t) => {
  const port = await exitingListener(t, Infinity);
  await assert.rejects(ensureCoordinator({ addr: { host: '127.0.0.1', port }, logFile: null }), (err: unknown) => {
    assert.ok(err instanceof StasisError);
    assert.equal(err.code, 'PORT_IN_USE');
    return true;
  });
});
