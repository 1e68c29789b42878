/**
 * The agent's local gRPC endpoint for the official @cmdop/node SDK (@grpc/grpc-js). It listens on
 * a 0600 Unix socket beside ours (a named pipe on Windows), never on the network; a loopback TCP
 * port only where config names one. Its handlers reach the agent through our own SDK on the
 * agent's own socket, so every rule (jail, read-only, tunnel allowlist, PIN, output caps, audit)
 * applies to these calls as to any other. In "health" mode it answers HealthCheck only, so the
 * official SDK's discover() still finds the agent alive and keeps the discovery file.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
import { Server, ServerCredentials, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../../log.js';
import { ValidationError } from '../../errors.js';
import { Client } from '../../client/client.js';
import { VERSION } from '../../version.js';
import type { DiscoveryInfo } from '../../link/discovery.js';
import { NOT_SERVED, SERVED, serviceDefinition } from './definition.js';
import { toServiceError, unimplemented } from './status.js';
import type { GrpcCtx } from './context.js';
import { ExecuteWatch, hasEndMarker } from './execute-watch.js';
import { sessionHandlers } from './sessions.js';
import { fileHandlers } from './files.js';
import { AiBridge, aiHandlers, askSpec } from './ai.js';
import type { terminal } from './gen/terminal.js';

export type GrpcMode = 'on' | 'health';

export interface GrpcEndpointOptions {
  mode: GrpcMode;
  /** Unix socket path (or a named pipe on Windows). */
  socketPath: string;
  /** host:port on loopback instead of the socket (config `grpcListen`). */
  listen?: string;
  /** The agent's own socket, which the handlers call through. */
  agentSocket: string;
  hostname: string;
  log: Logger;
  /** Live sessions, and clients attached to them (HealthCheck). */
  counts: () => { sessions: number; clients: number };
}

/** Requests up to 16 MiB (a FileWrite); answers stay under the SDK's 4 MiB receive limit (output.ts). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export function loopbackListen(spec: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(spec.trim());
  const host = m?.[1]?.replace(/^\[|\]$/g, '') ?? '';
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  if (!m || !loopback) throw new ValidationError(`grpcListen "${spec}" must be a loopback host:port (127.0.0.1:PORT or [::1]:PORT): the gRPC endpoint never listens on the network`);
  return { host, port: Number(m[2]) };
}

export class GrpcEndpoint {
  private server: Server | null = null;
  private shared: Promise<Client> | null = null;
  private readonly watch: ExecuteWatch;

  constructor(private readonly o: GrpcEndpointOptions) {
    this.watch = new ExecuteWatch({
      // Over once its end marker is out, or once no job holds the terminal (bash drops the rest
      // of the envelope when its command dies of SIGINT, so no marker comes then). Never signal
      // the shell itself at its prompt.
      finished: async (run) => {
        const t = (await this.client()).terminal;
        if (!(await t.getSession(run.sessionId)).busy) return true;
        const h = await t.getHistory(run.sessionId, { fromOffset: run.fromOffset, maxBytes: 4 * 1024 * 1024 });
        return hasEndMarker(Buffer.from(h.data).toString('latin1'), run.id);
      },
      signal: async (run, sig) => {
        this.o.log.info({ sessionId: run.sessionId, signal: sig }, 'an SDK execute outlived its poller: signalling its process group');
        await (await this.client()).terminal.sendSignal(run.sessionId, sig, { jobOnly: true });
      },
    });
  }

  private client(): Promise<Client> {
    if (!this.shared) {
      this.shared = Client.local({ socket: this.o.agentSocket });
      this.shared.catch(() => (this.shared = null));
    }
    return this.shared;
  }

  /** Binds, and says where for the discovery file. */
  async start(): Promise<Pick<DiscoveryInfo, 'transport' | 'address'>> {
    const server = new Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES, 'grpc.max_concurrent_streams': 100 });
    server.addService(serviceDefinition(), this.implementation());
    let target: string;
    let transport: 'unix' | 'pipe' | 'tcp';
    if (this.o.listen) {
      const { host, port } = loopbackListen(this.o.listen);
      target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      transport = 'tcp';
    } else if (process.platform === 'win32') {
      target = `unix:${this.o.socketPath}`;
      transport = 'pipe';
    } else {
      mkdirSync(dirname(this.o.socketPath), { recursive: true, mode: 0o700 });
      if (existsSync(this.o.socketPath)) rmSync(this.o.socketPath, { force: true }); // left by a killed agent
      target = `unix:${this.o.socketPath}`;
      transport = 'unix';
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(target, ServerCredentials.createInsecure(), (err, p) => (err ? reject(new ValidationError(`cannot listen on ${target} for gRPC: ${err.message}`)) : resolve(p))),
    );
    if (transport === 'unix') chmodSync(this.o.socketPath, 0o600);
    this.server = server;
    const address = transport === 'tcp' ? `${target.slice(0, target.lastIndexOf(':'))}:${port}` : this.o.socketPath;
    return { transport, address };
  }

  async stop(): Promise<void> {
    this.watch.stop();
    const server = this.server;
    this.server = null;
    if (server) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const shared = this.shared;
    this.shared = null;
    if (shared) await shared.then((c) => c.close(), () => {});
    if (!this.o.listen && process.platform !== 'win32') rmSync(this.o.socketPath, { force: true });
  }

  private implementation(): UntypedServiceImplementation {
    const impl: UntypedServiceImplementation = {};
    const unary = (name: string, fn: (req: never) => Promise<unknown>) =>
      (call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => {
        fn(call.request as never).then(
          (res) => done(null, res),
          (err: unknown) => done(toServiceError(err, `gRPC ${name}`)),
        );
      };
    const counts = this.o.counts;
    impl.HealthCheck = unary('HealthCheck', async () => {
      const c = counts();
      return { healthy: true, version: VERSION, activeSessions: c.sessions, connectedClients: c.clients } satisfies terminal.IHealthCheckResponse;
    });
    const health = this.o.mode === 'health';
    for (const [name, m] of Object.entries(NOT_SERVED)) impl[name] = refuse(name, m.why, m.requestStream || m.responseStream);
    if (health) {
      for (const name of Object.keys(SERVED)) if (name !== 'HealthCheck') impl[name] = refuse(name, 'this agent\'s gRPC endpoint is set to health only ("grpc": "health" in its config)', name === 'RunAgentStream');
      return impl;
    }
    const ctx: GrpcCtx = { client: () => this.client(), once: (fn) => once(this.o.agentSocket, fn), hostname: this.o.hostname, watch: this.watch };
    const ai = new AiBridge(ctx);
    const handlers: Record<string, (req: never) => Promise<unknown>> = { ...sessionHandlers(ctx), ...fileHandlers(ctx), ...aiHandlers(ai) };
    for (const [name, fn] of Object.entries(handlers)) impl[name] = unary(name, fn);
    impl.RunAgentStream = (call: ServerWritableStream<terminal.RunAgentRequest, unknown>) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      let spec: ReturnType<typeof askSpec>;
      try {
        spec = askSpec(call.request);
      } catch (err) {
        return void call.emit('error', toServiceError(err, 'gRPC RunAgentStream'));
      }
      const emit = (type: number, payload: string) => call.write({ requestId: spec.requestId, isFinal: false, event: { requestId: spec.requestId, type, payload, timestamp: Date.now() } } satisfies terminal.IRunAgentStreamResponse);
      ai.run(spec, emit, abort.signal).then(
        (result) => {
          call.write({ requestId: spec.requestId, isFinal: true, result } satisfies terminal.IRunAgentStreamResponse);
          call.end();
        },
        (err: unknown) => {
          if (!abort.signal.aborted) call.emit('error', toServiceError(err, 'gRPC RunAgentStream'));
        },
      );
    };
    return impl;
  }
}

/** A method answered with UNIMPLEMENTED and its reason, whatever its shape. */
function refuse(name: string, why: string, streaming: boolean | undefined) {
  const err = unimplemented(name, why);
  if (!streaming) return (_call: unknown, done: sendUnaryData<unknown>) => done(err);
  return (call: { emit(e: 'error', v: unknown): boolean }) => void call.emit('error', err);
}

async function once<T>(socket: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await Client.local({ socket });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}
