/**
 * The agent: wires its capabilities to the relay link and to the local socket. Every stream,
 * from either, goes through one service registry.
 */
import type { Logger } from '../log.js';
import { ValidationError } from '../errors.js';
import { cmdop } from '../protocol/gen/cmdop.js';
import { ServiceRegistry } from '../link/services.js';
import type { Stream } from '../protocol/stream.js';
import { defaultGrpcSocket, type AgentConfig } from './config.js';
import { Identity } from './identity.js';
import { RelayLink } from './link/relay-link.js';
import { LocalServer } from './link/local-server.js';
import { agentStatus } from './status.js';
import { presenceSummary } from './presence.js';
import { Allowlist } from './tunnel/allowlist.js';
import { handleTunnelConnect } from './tunnel/connect.js';
import { Sessions } from './terminal/sessions.js';
import { InfoCache } from './system/info.js';
import { Ledger, type GroupBy } from './system/ledger.js';
import type { TerminalCtx } from './terminal/service.js';
import type { FilesCtx } from './files/service.js';
import { FilesPolicy } from './files/policy.js';
import { Partials } from './files/partials.js';
import { AiService } from './ai/service.js';
import { PermissionError } from '../errors.js';
import { missingCapability } from '../control/capabilities.js';
import { AuditJournal } from './audit/journal.js';
import { auditUpload } from './audit/upload.js';
import { Uploader } from './link/uploader.js';
import { describeStream } from './audit/describe.js';
import { GrpcListener } from './grpc/listener.js';
import type { SshService } from './ssh/server.js';
import { abortWith } from '../link/services.js';
import type { GrpcMode } from './grpc/server.js';
import { ScheduleFiles } from './schedules/files.js';
import { RunJournal } from './schedules/journal.js';
import { Scheduler } from './schedules/scheduler.js';
import { runAction } from './schedules/runner.js';
import { runsUpload, watchSchedules } from './schedules/sync.js';
import { realClock, type Clock } from './schedules/clock.js';
import { RecordingStore, type RecordingMode } from './recordings/store.js';
import type { RecordingsCtx } from './recordings/service.js';
import { join } from 'node:path';

export interface AgentCtx extends TerminalCtx, FilesCtx, RecordingsCtx {
  log: Logger;
  allow: Allowlist;
}

export interface AgentOptions {
  config: AgentConfig;
  log: Logger;
  /** Serve the local socket (default true). */
  local?: boolean;
  /** Discovery file path (default beside the socket). */
  infoPath?: string;
  /** The schedules' clock (tests drive a fake one). */
  clock?: Clock;
}

export class Agent {
  readonly identity: Identity;
  readonly relay: RelayLink | null;
  readonly sessions: Sessions;
  /** Every terminal session's recording, kept on this host. */
  readonly recordings: RecordingStore;
  private local: LocalServer | null = null;
  private grpc: GrpcListener | null = null;
  private readonly services: ServiceRegistry<AgentCtx>;
  private readonly ctx: AgentCtx;
  private readonly startedMs = Date.now();
  private readonly info: InfoCache;
  /** AI spend ledger (the AI loop records into it and checks the budget). */
  readonly ledger: Ledger;
  private readonly partials: Partials;
  /** The AI loop, its PIN gate and history. */
  readonly ai: AiService;
  /** The SSH server that ssh.connect streams reach (no port); ssh2 loads with the first one. */
  private ssh: Promise<SshService> | null = null;
  /** This host's signed audit records, kept until the relay has them. */
  readonly audit: AuditJournal;
  private uploader: Uploader | null = null;
  /** The schedules this host holds, run on its own clock. */
  readonly scheduler: Scheduler;
  readonly runs: RunJournal;
  private runsUploader: Uploader | null = null;
  private unwatch: (() => void) | null = null;

  private constructor(private readonly o: AgentOptions) {
    const c = o.config;
    this.info = new InfoCache(c.hostname);
    this.identity = Identity.loadOrCreate(c.stateDir);
    this.ledger = new Ledger(c.stateDir, c.aiPrices, c.aiDailyBudget);
    this.audit = new AuditJournal(c.stateDir, (d) => this.identity.sign(d), o.log.child({ component: 'audit' }));
    this.recordings = new RecordingStore(
      { dir: c.recordingDir || join(c.stateDir, 'recordings'), mode: c.recordingMode as RecordingMode, input: c.recordingInput, maxBytes: c.recordingMaxBytes, retentionDays: c.recordingRetentionDays, maxTotalBytes: c.recordingMaxTotalBytes },
      o.log.child({ component: 'recordings' }),
      (type, fields) => this.audit.record(type, '', fields),
    );
    this.sessions = new Sessions(
      { hostname: c.hostname, scrollbackBytes: c.terminalScrollback, graceMs: c.terminalGraceSec * 1000, idleTimeoutMs: c.terminalIdleTimeoutSec * 1000, recordings: this.recordings },
      o.log.child({ component: 'terminal' }),
    );
    this.partials = new Partials(c.stateDir, c.filesResumeTtlSec * 1000, o.log.child({ component: 'files' }));
    this.ctx = {
      log: o.log,
      allow: new Allowlist(c.tunnelAllow),
      sessions: this.sessions,
      recordings: this.recordings,
      execMaxOutput: c.execMaxOutput,
      commandEnv: { CMDOP_HOSTNAME: c.hostname },
      files: { policy: new FilesPolicy({ roots: c.filesRoots, readOnly: c.filesReadOnly, allowHardlinks: c.filesAllowHardlinks }), partials: this.partials },
    };
    this.services = new ServiceRegistry<AgentCtx>()
      .unary('agent', 'status', cmdop.v1.Empty, () =>
        cmdop.v1.AgentStatus.encode(agentStatus({ hostname: c.hostname, startedMs: this.startedMs, relay: this.relay, localStreams: () => this.local?.streams ?? 0, schedules: () => ({ held: this.scheduler.list().length, pending: this.runs.unacknowledged }) })).finish(),
      )
      .unary('system', 'info', cmdop.v1.Empty, async () => cmdop.v1.SystemInfo.encode(await this.info.get()).finish())
      .unary('system', 'spend', cmdop.v1.SpendRequest, (req) => {
        const by = (req.groupBy || 'day') as GroupBy;
        if (!['day', 'model', 'session'].includes(by)) throw new ValidationError('groupBy is day, model or session');
        const { groups, total } = this.ledger.query(by, Number(req.sinceMs) || 0, Number(req.untilMs) || Infinity);
        return cmdop.v1.SpendResponse.encode({ groups, total, budgetDaily: this.ledger.budget, spentToday: this.ledger.spentToday() }).finish();
      })
      .stream('tunnel', 'connect', handleTunnelConnect)
      .stream('ssh', 'connect', (stream, ctx) =>
        void this.sshService().then((ssh) => ssh.handle(stream, {
          log: ctx.log,
          sessions: ctx.sessions,
          policy: ctx.files.policy,
          allow: ctx.allow,
          commandEnv: ctx.commandEnv,
          envAllow: c.sshEnvAllow,
          detachedGraceMs: c.terminalGraceSec * 1000,
          audit: (type, caller, fields) => this.audit.record(type, caller, fields),
        })).catch((err) => abortWith(stream, ctx.log, err, 'ssh.connect')),
      );
    // Terminals (and their recordings) and files load their handlers on their first stream.
    this.services
      .lazy('terminal', async () => {
        const [t, r] = await Promise.all([import('./terminal/service.js'), import('./recordings/service.js')]);
        return (services) => r.registerRecordings(t.registerTerminal(services));
      })
      .lazy('files', async () => (await import('./files/service.js')).registerFiles);
    this.ai = new AiService({ config: c, ledger: this.ledger, info: this.info, policy: this.ctx.files.policy, log: o.log.child({ component: 'ai' }), audit: (type, caller, fields) => this.audit.record(type, caller, fields) });
    this.ai.register(this.services);
    const files = new ScheduleFiles(c.stateDir);
    this.runs = new RunJournal(files.dir);
    this.scheduler = new Scheduler({
      files,
      journal: this.runs,
      clock: o.clock ?? realClock,
      run: (held, signal) => runAction(held.schedule.action, held.schedule.id, { commandEnv: this.ctx.commandEnv, ask: (x) => this.ai.askUnattended(x) }, signal),
      machineId: () => this.identity.enrollment()?.machineId ?? '',
      audit: (type, caller, fields) => this.audit.record(type, caller, fields),
      log: o.log.child({ component: 'schedules' }),
    });
    this.relay = c.relay
      ? new RelayLink({
          url: c.relay,
          fingerprint: c.fingerprint,
          caFile: c.ca,
          insecure: c.insecure,
          identity: this.identity,
          joinToken: c.token,
          hostname: c.hostname,
          labels: c.labels,
          log: o.log,
          onStream: (s) => this.dispatch(s, 'relay'),
          pingBody: () => ({ ping: { timeMs: Date.now(), summary: presenceSummary() } }),
        })
      : null;
  }

  static async start(o: AgentOptions): Promise<Agent> {
    const agent = new Agent(o);
    try {
      if (o.local !== false) await agent.listen(o);
    } catch (err) {
      await agent.stop().catch(() => {}); // nothing half-started stays behind
      throw err;
    }
    if (agent.relay) {
      const relay = agent.relay;
      agent.uploader = new Uploader(auditUpload(agent.audit), relay, o.log.child({ component: 'audit' }));
      relay.on('online', () => void agent.uploader?.kick());
      agent.runsUploader = new Uploader(runsUpload(agent.runs), relay, o.log.child({ component: 'schedules' }));
      relay.on('online', () => void agent.runsUploader?.kick());
      agent.unwatch = watchSchedules(relay, agent.scheduler, o.log.child({ component: 'schedules' }));
    }
    agent.scheduler.start();
    agent.relay?.start();
    return agent;
  }

  /** The local endpoints: the gRPC one first, since the discovery file names it. */
  private async listen(o: AgentOptions): Promise<void> {
    const c = o.config;
    this.grpc = new GrpcListener({
      mode: c.grpc as GrpcMode,
      socketPath: c.grpcSocket || defaultGrpcSocket(c.socket),
      ...(c.grpcListen ? { listen: c.grpcListen } : {}),
      agentSocket: c.socket,
      hostname: c.hostname,
      log: o.log.child({ component: 'grpc' }),
      counts: () => {
        const live = this.sessions.list().filter((s) => !s.exit);
        return { sessions: live.length, clients: live.reduce((n, s) => n + s.info().clients!.length, 0) };
      },
    });
    const grpc = await this.grpc.start();
    this.local = new LocalServer({
      grpc,
      socketPath: c.socket,
      infoPath: o.infoPath,
      log: o.log.child({ component: 'local' }),
      machineId: () => this.identity.enrollment()?.machineId ?? '',
      onStream: (s) => this.dispatch(s, 'local'),
    });
    await this.local.start();
  }

  private sshService(): Promise<SshService> {
    this.ssh ??= import('./ssh/server.js').then((m) => new m.SshService(this.identity, this.o.log.child({ component: 'ssh' })));
    return this.ssh;
  }

  /** Resolves when the relay link is online (or at once if it is). */
  online(timeoutMs = 30_000): Promise<void> {
    const relay = this.relay;
    if (!relay) return Promise.reject(new Error('no relay configured'));
    if (relay.state === 'online') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agent not online within ${timeoutMs} ms (last error: ${relay.status().lastError})`)), timeoutMs);
      relay.once('online', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.sessions.closeAll();
    this.recordings.close();
    this.partials.stop();
    await this.scheduler.stop();
    this.unwatch?.();
    this.uploader?.stop();
    this.runsUploader?.stop();
    await this.grpc?.stop(); // before the local socket its handlers call through
    await Promise.all([this.relay?.stop(), this.local?.stop()]);
    this.audit.close();
    this.runs.close();
  }

  /**
   * Every stream, from the relay or the local socket. A relay that speaks grants.v1 stamped what
   * the caller's key may do here; the agent checks it again (the relay should have refused
   * already), so a stream that bypassed the relay's check still cannot do more.
   */
  private dispatch(stream: Stream, from: 'relay' | 'local'): void {
    const { service, method } = stream.info;
    if (from === 'relay' && this.relay?.speaks('grants.v1')) {
      const missing = missingCapability(new Set(stream.info.caps ?? []), service, method);
      if (missing) return stream.abort(new PermissionError(`this key lacks the ${missing} grant on this machine (for ${service}.${method})`, { detail: 'missing_grant' }));
    } else {
      stream.info.caps = undefined;
    }
    const d = describeStream(service, method, stream.info.request);
    if (d) this.audit.record(d.type, stream.info.caller ?? '', d.fields);
    this.services.dispatch(stream, this.ctx);
  }
}
