/*
 * A coordinator on an ephemeral port for a test, collecting its log lines, and fake agents
 * connected to it; both are closed when the test ends.
 */

import { TestContext } from 'node:test';
import { RunningServer, ServerOptions, startCoordinatorServer } from '../../src/coordinator/net-server';
import { FakeAgent, FakeAgentOptions } from './fake-agent';

export type LoggingServer = RunningServer & { logs: string[] };

export async function server(t: TestContext, opts: ServerOptions = {}): Promise<LoggingServer> {
  const logs: string[] = [];
  const s = await startCoordinatorServer({ port: 0, log: (l) => logs.push(l), ...opts });
  t.after(() => s.close());
  return Object.assign(s, { logs });
}

export async function agent(t: TestContext, s: RunningServer, opts: Omit<FakeAgentOptions, 'port'>): Promise<FakeAgent> {
  const a = await FakeAgent.connect({ port: s.port, ...opts });
  t.after(() => a.kill());
  return a;
}
