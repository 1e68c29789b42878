/**
 * The cmdop client: one multiplexed link to a relay (or to the local agent), and typed
 * namespaces on top of it.
 *
 * @example
 * await using client = await Client.connect({ url: 'wss://relay:8443', token: process.env.CMDOP_TOKEN });
 * const { items } = await client.machines.list({ presence: 'online' });
 */
import { cmdop } from '../protocol/gen/cmdop.js';
import { silentLogger, type Logger } from '../log.js';
import type { OpenOptions } from '../protocol/mux.js';
import type { Stream } from '../protocol/stream.js';
import { findLocalAgent } from '../link/discovery.js';
import { VERSION } from '../version.js';
import { ValidationError } from '../errors.js';
import { Connection, type ConnectionInfo, type ReconnectOptions } from './connection.js';
import { RelayList } from '../link/relays.js';
import type { RetryOptions } from './retry.js';
import { makeCaller, type Caller } from './caller.js';
import { Machines } from './machines.js';
import { Terminal } from './terminal.js';
import { Tunnels } from './tunnels.js';
import { Files } from './files.js';
import { Agent } from './agent.js';
import { Keys } from './keys.js';
import { Fleets } from './fleets.js';
import { Schedules } from './schedules.js';
import { Audit } from './audit.js';
import { MachineTarget } from './target.js';
import { DEFAULT_TIMEOUT_MS, resolveClientOptions, type ClientOptions } from './options.js';

export interface LocalOptions extends RetryOptions, ReconnectOptions {
  /** Discovery files to look at (default ~/.cmdop/agent.info, then /var/run/cmdop/agent.info). */
  infoPaths?: string[];
  /** The agent's socket, without looking at a discovery file. */
  socket?: string;
  /** A relay on this machine instead of the agent (the seeds' local Control Plane): host, port, TLS. */
  host?: string;
  port?: number;
  /** false: plain ws:// (development only). Default true. */
  tls?: boolean;
  /** With host/port: the API key (else CMDOP_TOKEN). */
  apiKey?: string;
  fingerprint?: string;
  timeoutMs?: number;
  log?: Logger;
}

export class Client {
  readonly machines: Machines;
  readonly terminal: Terminal;
  readonly files: Files;
  /** The chosen machine's AI agent (`agent.run`). */
  readonly agent: Agent;
  readonly tunnels: Tunnels;
  /** API keys and their grants (admin). */
  readonly keys: Keys;
  /** Fleets, their machines and members, and fan-out over them. */
  readonly fleets: Fleets;
  /** Jobs the agents run on their own clocks; the relay keeps every run. */
  readonly schedules: Schedules;
  /** The relay's audit log. */
  readonly audit: Audit;
  /** Where this client is connected: a relay URL or the local agent's socket. */
  readonly endpoint: string;
  private readonly caller: Caller;

  private constructor(private readonly conn: Connection, timeoutMs: number, endpoint: string, local = false, retry: RetryOptions = {}) {
    this.caller = makeCaller(conn, timeoutMs, retry);
    this.machines = new Machines(this.caller);
    const target = new MachineTarget(local);
    this.terminal = new Terminal(this.caller, target);
    this.files = new Files(this.caller, target);
    this.agent = new Agent(this.machines, target);
    this.tunnels = new Tunnels(this.caller);
    this.keys = new Keys(this.caller);
    this.fleets = new Fleets(this.caller);
    this.schedules = new Schedules(this.caller);
    this.audit = new Audit(this.caller);
    this.endpoint = endpoint;
  }

  /**
   * Connects to a relay. Options not given come from CMDOP_BASE_URL, CMDOP_TOKEN,
   * CMDOP_FINGERPRINT and CMDOP_TIMEOUT_MS, then from the default profile.
   */
  static async connect(options: ClientOptions & { log?: Logger } = {}): Promise<Client> {
    const o = resolveClientOptions(options);
    // Several relay nodes (comma-separated): start on a random one, move on after a failure.
    const relays = new RelayList(o.url);
    const conn = new Connection(
      () => ({
        dial: { url: relays.current, fingerprint: o.fingerprint, caFile: o.caFile, insecure: o.insecure, timeoutMs: o.timeoutMs },
        log: options.log ?? silentLogger(),
        hello: { role: cmdop.v1.Role.CLIENT, software: `cmdop-client/${VERSION}`, apiKey: o.token },
      }),
      options.log ?? silentLogger(),
      o.url,
      options,
    );
    conn.onFailure = () => void relays.failover();
    await Client.firstLink(conn, relays.urls.length);
    return new Client(conn, o.timeoutMs, o.url, false, options);
  }

  /** The first link: with several relay nodes, each is tried once before giving up. */
  private static async firstLink(conn: Connection, tries: number): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await conn.get();
        return;
      } catch (err) {
        if (i >= tries || (err as { retryable?: boolean }).retryable === false) {
          conn.close();
          throw err;
        }
      }
    }
  }

  /** The seeds' name for connect(): a relay, with an API key. */
  static remote(options: Omit<ClientOptions, 'token'> & { apiKey?: string; log?: Logger } = {}): Promise<Client> {
    const { apiKey, ...rest } = options;
    return Client.connect({ ...rest, ...(apiKey !== undefined ? { token: apiKey } : {}) });
  }

  /** Connects using only the environment (and the default profile). */
  static fromEnv(): Promise<Client> {
    return Client.connect({});
  }

  /** Connects to the agent on this host through its local socket, found by its discovery file. */
  static async local(options: LocalOptions = {}): Promise<Client> {
    if (options.host !== undefined || options.port !== undefined) {
      const { host = 'localhost', port, tls = true, apiKey, infoPaths: _i, socket: _s, ...rest } = options;
      if (!port) throw new ValidationError('Client.local({ host, port }) needs the port of the relay on this machine');
      return Client.connect({ ...rest, url: `${tls ? 'wss' : 'ws'}://${host}:${port}`, ...(apiKey !== undefined ? { token: apiKey } : {}), ...(tls ? {} : { insecure: true }) });
    }
    const socket = options.socket ?? findLocalAgent(options.infoPaths).socket;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const url = `ws+unix://${socket}:/`;
    const conn = new Connection(
      () => ({ dial: { url, timeoutMs }, log: options.log ?? silentLogger(), hello: { role: cmdop.v1.Role.CLIENT, software: `cmdop-client/${VERSION}` } }),
      options.log ?? silentLogger(),
      socket,
      options,
    );
    await conn.get();
    return new Client(conn, timeoutMs, socket, true, options);
  }

  /**
   * Opens a raw stream to a service on a machine (advanced; the namespaces wrap this).
   * `machine` is a machine id or hostname, or '' for the peer itself.
   */
  stream(machine: string, o: Omit<OpenOptions, 'target'>): Promise<Stream> {
    return this.caller.open({ ...o, target: machine });
  }

  /** A unary call by service and method (advanced). */
  call(machine: string, service: string, method: string, request: Uint8Array, timeoutMs?: number): Promise<Uint8Array> {
    return this.caller.unary(machine, service, method, request, timeoutMs);
  }

  /**
   * 'connect' (a link is up), 'disconnect' (it dropped: the error), 'error' (a background
   * reconnect failed: the error; without a listener nothing is thrown).
   */
  on(event: 'connect' | 'disconnect' | 'error', listener: (...args: unknown[]) => void): this {
    this.conn.on(event, listener);
    return this;
  }

  off(event: 'connect' | 'disconnect' | 'error', listener: (...args: unknown[]) => void): this {
    this.conn.off(event, listener);
    return this;
  }

  get isConnected(): boolean {
    return this.conn.isConnected;
  }

  /** `{ server, connected, latencyMs, connectedAt, reconnects }`; latencyMs from the heartbeat's round trip. */
  get connectionInfo(): ConnectionInfo {
    return this.conn.info;
  }

  /** Dials now if there is no link (after a drop with autoReconnect off, this reconnects). */
  async connect(): Promise<void> {
    await this.conn.connect();
  }

  async close(): Promise<void> {
    await this.tunnels.closeAll();
    this.conn.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
