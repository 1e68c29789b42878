/** The agent's settings, where they live, and how they are resolved. */
import { hostPaths, hostScope, type Scope } from '../platform/paths.js';
import { existsSync, readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ValidationError } from '../errors.js';
import { resolveConfig, type Resolved, type Setting } from '../config/resolve.js';
import { loopbackListen } from './grpc/listen.js';

export interface AgentConfig {
  relay: string | undefined;
  token: string | undefined;
  fingerprint: string | undefined;
  ca: string | undefined;
  insecure: boolean;
  stateDir: string;
  socket: string;
  grpc: string;
  grpcSocket: string;
  grpcListen: string;
  sshEnvAllow: string[];
  hostname: string;
  labels: Record<string, string>;
  logLevel: string;
  tunnelAllow: string[];
  terminalScrollback: number;
  terminalGraceSec: number;
  terminalIdleTimeoutSec: number;
  execMaxOutput: number;
  aiPrices: Record<string, { prompt: number; completion: number }>;
  aiDailyBudget: number;
  filesRoots: string[];
  filesReadOnly: boolean;
  filesAllowHardlinks: boolean;
  filesResumeTtlSec: number;
  aiBaseUrl: string;
  aiModel: string;
  aiApiKeyEnv: string;
  aiMaxIterations: number;
  aiConfirmPolicy: string;
  aiConfirmTimeoutSec: number;
  aiHistoryMax: number;
  pin: string;
  pinMinLength: number;
  pinVerifySec: number;
  recordingMode: string;
  recordingDir: string;
  recordingInput: boolean;
  recordingMaxBytes: number;
  recordingRetentionDays: number;
  recordingMaxTotalBytes: number;
}

/** The scope of a system agent (root, or a Windows service) or a per-user one; see platform/paths.ts. */
const scopeOf = (system?: boolean): Scope => (system === undefined ? hostScope() : system ? 'system' : 'user');

/** Where the platform keeps the agent's config file (system or per-user). */
export function defaultConfigPath(system?: boolean): string {
  return hostPaths(scopeOf(system)).configFile;
}

export function defaultStateDir(system?: boolean): string {
  return hostPaths(scopeOf(system)).stateDir;
}

/** Directory of the local socket and discovery file: /var/run/cmdop for a system agent, ~/.cmdop for a user one. */
export function defaultRunDir(system?: boolean): string {
  return hostPaths(scopeOf(system)).runDir;
}

export function defaultSocketPath(system?: boolean): string {
  return hostPaths(scopeOf(system)).socketPath;
}

/** The gRPC endpoint's socket: grpc.sock beside ours (a named pipe beside ours on Windows). */
export function defaultGrpcSocket(socket: string): string {
  if (process.platform === 'win32') return `${socket}-grpc`;
  return join(dirname(socket), 'grpc.sock');
}

export const AGENT_SETTINGS: readonly Setting[] = [
  { key: 'relay', flag: '--relay', env: 'CMDOP_RELAY_URL', type: 'string', help: 'relay URL, wss://host:port (several relay nodes: comma-separated)' },
  { key: 'token', flag: '--token', env: 'CMDOP_JOIN_TOKEN', type: 'string', help: 'join token, used once to enrol' },
  { key: 'fingerprint', flag: '--fingerprint', env: 'CMDOP_RELAY_FINGERPRINT', type: 'string', help: "pin the relay's certificate by SHA-256" },
  { key: 'ca', flag: '--ca', env: 'CMDOP_RELAY_CA', type: 'string', help: 'PEM file of CAs to trust instead of the system ones' },
  { key: 'insecure', flag: '--insecure', env: 'CMDOP_INSECURE', type: 'boolean', default: false, help: 'allow ws:// without TLS (development only)' },
  { key: 'stateDir', flag: '--state-dir', env: 'CMDOP_STATE_DIR', type: 'string', default: defaultStateDir(), help: 'identity key, machine id, ledgers (0600)' },
  { key: 'socket', flag: '--socket', env: 'CMDOP_SOCKET', type: 'string', default: defaultSocketPath(), help: 'local socket for clients on this host' },
  { key: 'grpc', flag: '--grpc', env: 'CMDOP_GRPC', type: 'string', default: 'on', help: 'the local gRPC endpoint for the official @cmdop/node SDK: on, or health (answers HealthCheck only)' },
  { key: 'grpcSocket', flag: '--grpc-socket', env: 'CMDOP_GRPC_SOCKET', type: 'string', default: '', help: 'its Unix socket (0600) or named pipe (default: grpc.sock beside the local socket)' },
  { key: 'grpcListen', flag: '--grpc-listen', env: 'CMDOP_GRPC_LISTEN', type: 'string', default: '', help: 'serve it on a loopback host:port instead of the socket (never a network address)' },
  { key: 'sshEnvAllow', flag: '--ssh-env-allow', env: 'CMDOP_SSH_ENV_ALLOW', type: 'list', default: ['LANG', 'LC_*', 'TZ', 'COLORTERM'], help: 'variables an SSH client may send (SendEnv), as globs' },
  { key: 'hostname', flag: '--hostname', env: 'CMDOP_HOSTNAME', type: 'string', default: osHostname(), help: 'name shown in machine lists' },
  { key: 'labels', flag: '--labels', env: 'CMDOP_LABELS', type: 'map', default: {}, help: 'k=v,k2=v2 labels sent at enrolment' },
  { key: 'logLevel', flag: '--log-level', env: 'CMDOP_LOG_LEVEL', type: 'string', default: 'info', help: 'trace, debug, info, warn, error, silent' },
  { key: 'terminalScrollback', flag: '--terminal-scrollback', env: 'CMDOP_TERMINAL_SCROLLBACK', type: 'number', default: 1048576, help: 'bytes of output kept per terminal session for resume' },
  { key: 'terminalGraceSec', flag: '--terminal-grace', env: 'CMDOP_TERMINAL_GRACE', type: 'number', default: 60, help: 'seconds a session with no clients shows as grace_period' },
  { key: 'terminalIdleTimeoutSec', flag: '--terminal-idle-timeout', env: 'CMDOP_TERMINAL_IDLE_TIMEOUT', type: 'number', default: 0, help: 'close sessions with no clients and no output for this long (0 = never)' },
  { key: 'execMaxOutput', flag: '--exec-max-output', env: 'CMDOP_EXEC_MAX_OUTPUT', type: 'number', default: 8388608, help: 'bytes of output kept by execute (then truncated)' },
  { key: 'aiPrices', flag: '--ai-prices', env: 'CMDOP_AI_PRICES', type: 'json', default: {}, help: 'price per million tokens by model: {"model": {"prompt": 0.5, "completion": 1.5}}' },
  { key: 'aiDailyBudget', flag: '--ai-daily-budget', env: 'CMDOP_AI_DAILY_BUDGET', type: 'number', default: 0, help: 'AI spend per UTC day after which asks are refused (0 = no limit)' },
  { key: 'filesRoots', flag: '--files-root', env: 'CMDOP_FILES_ROOTS', type: 'list', default: [], help: 'directories file operations are jailed to (empty = no jail)' },
  { key: 'filesReadOnly', flag: '--files-read-only', env: 'CMDOP_FILES_READ_ONLY', type: 'boolean', default: false, help: 'refuse every file operation that changes something' },
  { key: 'filesAllowHardlinks', flag: '--files-allow-hardlinks', env: 'CMDOP_FILES_ALLOW_HARDLINKS', type: 'boolean', default: false, help: 'under a jail, read regular files that have more than one hard link' },
  { key: 'filesResumeTtlSec', flag: '--files-resume-ttl', env: 'CMDOP_FILES_RESUME_TTL', type: 'number', default: 86400, help: 'seconds an interrupted resumable upload is kept for resume' },
  { key: 'aiBaseUrl', flag: '--ai-base-url', env: 'CMDOP_AI_BASE_URL', type: 'string', default: 'http://127.0.0.1:11434/v1', help: 'OpenAI-compatible endpoint (Ollama, llama.cpp, vLLM, LM Studio, a cloud API); file key ai.baseUrl' },
  { key: 'aiModel', flag: '--ai-model', env: 'CMDOP_AI_MODEL', type: 'string', default: 'llama3.1', help: 'model name sent to the endpoint; file key ai.model' },
  { key: 'aiApiKeyEnv', flag: '--ai-api-key-env', env: 'CMDOP_AI_API_KEY_ENV', type: 'string', default: 'OPENAI_API_KEY', help: 'name of the env var that holds the API key (never the key itself); file key ai.apiKeyEnv' },
  { key: 'aiMaxIterations', flag: '--ai-max-iterations', env: 'CMDOP_AI_MAX_ITERATIONS', type: 'number', default: 10, help: 'model calls per ask before it stops' },
  { key: 'aiConfirmPolicy', flag: '--ai-confirm-policy', env: 'CMDOP_AI_CONFIRM_POLICY', type: 'string', default: 'ask', help: 'ask: confirm what is not known-safe; never: refuse it outright' },
  { key: 'aiConfirmTimeoutSec', flag: '--ai-confirm-timeout', env: 'CMDOP_AI_CONFIRM_TIMEOUT', type: 'number', default: 120, help: 'seconds a confirm waits (then counts as rejected)' },
  { key: 'aiHistoryMax', flag: '--ai-history-max', env: 'CMDOP_AI_HISTORY_MAX', type: 'number', default: 200, help: 'messages kept per AI session' },
  { key: 'pin', flag: '--pin-mode', env: 'CMDOP_PIN_MODE', type: 'string', default: 'required', help: 'required: asks need the connect PIN; off: no PIN (must be said explicitly)' },
  { key: 'pinMinLength', flag: '--pin-min-length', env: 'CMDOP_PIN_MIN_LENGTH', type: 'number', default: 6, help: 'digits a PIN needs (at least 4)' },
  { key: 'pinVerifySec', flag: '--pin-verify-ttl', env: 'CMDOP_PIN_VERIFY_TTL', type: 'number', default: 900, help: 'seconds a correct PIN keeps a client session verified' },
  { key: 'recordingMode', flag: '--recording-mode', env: 'CMDOP_RECORDING_MODE', type: 'string', default: 'best-effort', help: 'terminal session recordings: best-effort (a failing disk never stops a session), strict (no recording, no session), off' },
  { key: 'recordingDir', flag: '--recording-dir', env: 'CMDOP_RECORDING_DIR', type: 'string', default: '', help: 'where recordings are kept (default: recordings/ in the state dir)' },
  { key: 'recordingInput', flag: '--recording-input', env: 'CMDOP_RECORDING_INPUT', type: 'boolean', default: false, help: 'record keystrokes too (off: output, resizes and attach/detach markers only)' },
  { key: 'recordingMaxBytes', flag: '--recording-max-bytes', env: 'CMDOP_RECORDING_MAX_BYTES', type: 'number', default: 104857600, help: 'compressed bytes per session recording, then it is cut off (truncated)' },
  { key: 'recordingRetentionDays', flag: '--recording-retention-days', env: 'CMDOP_RECORDING_RETENTION_DAYS', type: 'number', default: 30, help: 'days a finished recording is kept (0 = forever)' },
  { key: 'recordingMaxTotalBytes', flag: '--recording-max-total-bytes', env: 'CMDOP_RECORDING_MAX_TOTAL_BYTES', type: 'number', default: 1073741824, help: 'bytes all recordings may take; the oldest go first (0 = no limit)' },
  { key: 'tunnelAllow', flag: '--tunnel-allow', env: 'CMDOP_TUNNEL_ALLOW', type: 'list', default: ['127.0.0.0/8:*', '[::1]:*', 'localhost:*'], help: 'host:port patterns tunnels may reach' },
];

/** `{"ai": {"baseUrl": …}}` and `{"ai.baseUrl": …}` both mean the setting `aiBaseUrl`. */
export function flattenSections(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const camel = (section: string, key: string) => section + key.charAt(0).toUpperCase() + key.slice(1);
  for (const [k, v] of Object.entries(data)) {
    if (k === 'ai' && v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [sk, sv] of Object.entries(v)) out[camel(k, sk)] = sv;
    } else if (k.startsWith('ai.')) out[camel('ai', k.slice(3))] = v;
    else out[k] = v;
  }
  return out;
}

/** Reads the config file (missing file = empty) and resolves every setting. */
export function loadAgentConfig(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env, configPath?: string): Resolved<AgentConfig> & { file: string } {
  const file = configPath ?? env.CMDOP_CONFIG ?? defaultConfigPath();
  let data: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ValidationError(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ValidationError(`${file} must hold a JSON object`);
  }
  const r = resolveConfig<AgentConfig>(AGENT_SETTINGS, flags, env, flattenSections(data), file);
  if (!['required', 'off'].includes(r.values.pin)) throw new ValidationError(`${file}: "pin" is "required" or "off"`);
  if (!['ask', 'never'].includes(r.values.aiConfirmPolicy)) throw new ValidationError(`${file}: "aiConfirmPolicy" is "ask" or "never"`);
  if (r.values.grpcListen) loopbackListen(r.values.grpcListen);
  if (!['on', 'health'].includes(r.values.grpc)) throw new ValidationError(`${file}: "grpc" is "on" or "health"`);
  if (!['best-effort', 'strict', 'off'].includes(r.values.recordingMode)) throw new ValidationError(`${file}: "recordingMode" is "best-effort", "strict" or "off"`);
  if (r.values.recordingDir) r.values.recordingDir = resolve(r.values.recordingDir);
  if (!(r.values.pinMinLength >= 4)) throw new ValidationError(`${file}: "pinMinLength" must be at least 4`);
  // Relative paths are relative to where the agent was started; the service runs elsewhere.
  r.values.stateDir = resolve(r.values.stateDir);
  if (process.platform !== 'win32') r.values.socket = resolve(r.values.socket);
  if (r.values.grpcSocket && process.platform !== 'win32') r.values.grpcSocket = resolve(r.values.grpcSocket);
  return { ...r, file };
}
