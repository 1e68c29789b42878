/**
 * The gRPC service itself (@grpc/grpc-js), loaded on the first connection (listener.ts): the
 * handlers reach the agent through our own SDK on the agent's own socket, so every rule (jail,
 * read-only, tunnel allowlist, PIN, output caps, audit) applies to these calls as to any other.
 * In "health" mode it answers HealthCheck only, so the official SDK's discover() still finds the
 * agent alive and keeps the discovery file.
 */
import type { Duplex } from 'node:stream';
import { Server, ServerCredentials, status, type ConnectionInjector, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../../log.js';
import { Client } from '../../client/client.js';
import { VERSION } from '../../version.js';
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
  /** The agent's own socket, which the handlers call through. */
  agentSocket: string;
  hostname: string;
  log: Logger;
  /** Live sessions, and clients attached to them (HealthCheck). */
  counts: () => { sessions: number; clients: number };
}

/** Requests up to 16 MiB (a FileWrite); answers stay under the SDK's 4 MiB receive limit (output.ts). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export class GrpcEndpoint {
  private readonly server: Server;
  private readonly injector: ConnectionInjector;
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
    this.server = new Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES, 'grpc.max_concurrent_streams': 100 });
    this.server.addService(serviceDefinition(), this.implementation());
    this.injector = this.server.createConnectionInjector(ServerCredentials.createInsecure());
  }

  private client(): Promise<Client> {
    if (!this.shared) {
      this.shared = Client.local({ socket: this.o.agentSocket });
      this.shared.catch(() => (this.shared = null));
    }
    return this.shared;
  }

  /** Connections the listener accepted, handed to grpc-js's HTTP/2 server. */
  inject(connection: Duplex): void {
    this.injector.injectConnection(connection);
  }

  async stop(): Promise<void> {
    this.watch.stop();
    this.injector.drain(1000);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
    this.injector.destroy();
    const shared = this.shared;
    this.shared = null;
    if (shared) await shared.then((c) => c.close(), () => {});
  }

  private implementation(): UntypedServiceImplementation {
    const impl: UntypedServiceImplementation = {};
    const unary = (name: string, fn: (req: never) => Promise<unknown>) =>
      (call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>) => {
        fn(call.request as never).then(
          (res) => done(null, res),
          (err: unknown) => {
            const e = toServiceError(err, `gRPC ${name}`);
            if (e.code === status.INTERNAL) this.o.log.error({ err: err instanceof Error ? err.stack : String(err), method: name }, 'gRPC call failed');
            done(e);
          },
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
