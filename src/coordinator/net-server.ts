/*
 * Node `net` adapter for the coordinator core. Each connection becomes an agent or a client
 * according to its first frame (HELLO or REQUEST). A protocol violation is logged with its
 * reason and drops that connection only. A client's requests are answered one at a time,
 * in order.
 */

import * as net from 'node:net';
import { errnoCode, StasisError } from '../errors';
import { DEFAULT_COORD_HOST, DEFAULT_COORD_PORT } from '../protocol/address';
import { ProtocolError } from '../protocol/frame';
import { MessageSocket } from '../protocol/message-socket';
import { JsonObject, Message } from '../protocol/messages';
import { AgentSession, Coordinator, CoordinatorOptions } from './coordinator';
import { Logger, silentLogger } from './log';

export { DEFAULT_COORD_HOST, DEFAULT_COORD_PORT };

export interface ServerOptions extends Omit<CoordinatorOptions, 'onShutdown'> {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface RunningServer {
  readonly coordinator: Coordinator;
  readonly host: string;
  readonly port: number;
  /** Resolves once the server has closed, for whatever reason. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export async function startCoordinatorServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? DEFAULT_COORD_HOST;
  const wantedPort = opts.port ?? DEFAULT_COORD_PORT;
  const log: Logger = opts.log ?? silentLogger;
  const sockets = new Set<MessageSocket>();
  const clients = new Set<MessageSocket>();
  // Half-open: a client that has sent its last request still gets the answers.
  const server = net.createServer({ allowHalfOpen: true });
  let closing: Promise<void> | null = null;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  const close = (): Promise<void> => {
    if (closing) return closing;
    coordinator.stop();
    closing = new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Clients get their last response flushed; agents are cut off.
      for (const s of sockets) {
        if (clients.has(s)) s.end();
        else s.destroy();
      }
      const straggler = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 1000);
      straggler.unref();
    }).then(() => resolveClosed());
    return closing;
  };

  const coordinator = new Coordinator({
    ...opts,
    log,
    onIdle: () => {
      opts.onIdle?.();
      void close();
    },
    onShutdown: () => void close(),
  });

  server.on('connection', (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    let agent: AgentSession | null = null;
    let isClient = false;
    let queue: Promise<void> = Promise.resolve();
    const ms: MessageSocket = new MessageSocket(socket, {
      message: (msg: Message) => {
        if (agent) {
          coordinator.agentMessage(agent, msg);
        } else if (isClient) {
          if (msg.type !== 'REQUEST') throw new ProtocolError('wrong-direction', `clients do not send ${msg.type}`);
          enqueue(msg.body);
        } else if (msg.type === 'HELLO') {
          agent = coordinator.agentHello({ remote: ms.remote, send: (m) => ms.send(m) }, msg);
        } else if (msg.type === 'REQUEST') {
          isClient = true;
          clients.add(ms);
          enqueue(msg.body);
        } else {
          throw new ProtocolError('unexpected', `first frame is ${msg.type}, expected HELLO or REQUEST`);
        }
      },
      protocolError: (err: ProtocolError) => {
        log(`dropped connection from ${ms.remote}${agent ? ` (procId ${agent.procId})` : ''}: ${err.message}`);
      },
      // A client may half-close after its last request: answer it first.
      end: () => {
        if (isClient) void queue.then(() => ms.end());
        else ms.end();
      },
      close: () => {
        sockets.delete(ms);
        clients.delete(ms);
        if (agent) coordinator.agentGone(agent);
      },
    });
    sockets.add(ms);

    function enqueue(body: JsonObject): void {
      queue = queue.then(() =>
        coordinator.request(body, {
          progress: (p) => ms.send({ type: 'PROGRESS', body: p }),
          respond: (r) => ms.send({ type: 'RESPONSE', body: r }),
        }),
      );
    }
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(listenError(err, host, wantedPort));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port: wantedPort, exclusive: true });
  });
  server.on('error', (err) => log(`server error: ${err.message}`));

  const addr = server.address() as net.AddressInfo;
  coordinator.setAddress(host, addr.port);
  coordinator.start();
  log(`listening on ${host}:${addr.port} (pid ${process.pid})`);
  return { coordinator, host, port: addr.port, closed, close };
}

function listenError(err: Error, host: string, port: number): StasisError {
  switch (errnoCode(err)) {
    case 'EADDRINUSE':
      return new StasisError('PORT_IN_USE', `port ${port} is in use by another program — pass --coord-port N`);
    case 'EACCES':
      return new StasisError('COORDINATOR', `no permission to listen on port ${port} — pass --coord-port N with N above 1023`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new StasisError('COORDINATOR', `cannot listen on ${host}: no such local address — pass --coord-host with an address of this machine`);
    default:
      return new StasisError('COORDINATOR', `cannot listen on ${host}:${port}: ${err.message}`);
  }
}
