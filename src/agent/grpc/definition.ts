/**
 * The gRPC service the official SDK calls (terminal.TerminalStreamingService), as a grpc-js
 * service definition over our static protobufjs types (gen/terminal.js, from proto/compat). The
 * methods we do not serve are listed too, so each answers UNIMPLEMENTED with a reason at once.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { terminal } from './gen/terminal.js';

const SERVICE = '/terminal.TerminalStreamingService/';

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

function method<Req, Res>(name: string, req: Codec<Req>, res: Codec<Res>, responseStream = false, requestStream = false): MethodDefinition<Req, Res> {
  return {
    path: SERVICE + name,
    requestStream,
    responseStream,
    requestSerialize: (m: Req) => Buffer.from(req.encode(m).finish()),
    requestDeserialize: (b: Buffer) => req.decode(b),
    responseSerialize: (m: Res) => Buffer.from(res.encode(m).finish()),
    responseDeserialize: (b: Buffer) => res.decode(b),
  };
}

const RAW: Codec<Uint8Array> = { encode: (m) => ({ finish: () => m }), decode: (b) => b };

const t = terminal;
export const SERVED = {
  HealthCheck: method('HealthCheck', t.HealthCheckRequest, t.HealthCheckResponse),
  CreateSession: method('CreateSession', t.CreateSessionRequest, t.CreateSessionResponse),
  CloseSession: method('CloseSession', t.CloseSessionRequest, t.CloseSessionResponse),
  GetSessionStatus: method('GetSessionStatus', t.GetSessionStatusRequest, t.GetSessionStatusResponse),
  ListSessions: method('ListSessions', t.ListSessionsRequest, t.ListSessionsResponse),
  GetSessionByHostname: method('GetSessionByHostname', t.GetSessionByHostnameRequest, t.GetSessionByHostnameResponse),
  SendInput: method('SendInput', t.SendInputRequest, t.SendInputResponse),
  SendResize: method('SendResize', t.SendResizeRequest, t.SendResizeResponse),
  SendSignal: method('SendSignal', t.SendSignalRequest, t.SendSignalResponse),
  GetOutput: method('GetOutput', t.GetOutputRequest, t.GetOutputResponse),
  FileListDirectory: method('FileListDirectory', t.FileListDirectoryRpcRequest, t.FileListDirectoryRpcResponse),
  FileRead: method('FileRead', t.FileReadRpcRequest, t.FileReadRpcResponse),
  FileWrite: method('FileWrite', t.FileWriteRpcRequest, t.FileWriteRpcResponse),
  FileCreateDirectory: method('FileCreateDirectory', t.FileCreateDirectoryRpcRequest, t.FileCreateDirectoryRpcResponse),
  FileDelete: method('FileDelete', t.FileDeleteRpcRequest, t.FileDeleteRpcResponse),
  FileMove: method('FileMove', t.FileMoveRpcRequest, t.FileMoveRpcResponse),
  FileCopy: method('FileCopy', t.FileCopyRpcRequest, t.FileCopyRpcResponse),
  FileGetInfo: method('FileGetInfo', t.FileGetInfoRpcRequest, t.FileGetInfoRpcResponse),
  FileCreateArchive: method('FileCreateArchive', t.FileCreateArchiveRpcRequest, t.FileCreateArchiveRpcResponse),
  FileSearch: method('FileSearch', t.FileSearchRpcRequest, t.FileSearchRpcResponse),
  Extract: method('Extract', t.ExtractRequest, t.ExtractResponse),
  RunAgent: method('RunAgent', t.RunAgentRequest, t.RunAgentResponse),
  RunAgentStream: method('RunAgentStream', t.RunAgentRequest, t.RunAgentStreamResponse, true),
  CancelAgent: method('CancelAgent', t.CancelAgentRequest, t.CancelAgentResponse),
} as const;

/** The official service's other methods, and why each is not served here. */
export const NOT_SERVED: Record<string, { why: string; requestStream?: boolean; responseStream?: boolean }> = {
  ConnectTerminal: { why: 'attach through terminal.stream() (output by offset) or our own SDK\'s terminal.stream()', requestStream: true, responseStream: true },
  GetChallenge: { why: 'local callers are authenticated by the socket\'s file permissions' },
  GetHistory: { why: 'the agent keeps terminal output, not a command history: use getOutput()' },
  RegisterDeviceToken: { why: 'push notifications belong to the CMDOP cloud' },
  UnregisterDeviceToken: { why: 'push notifications belong to the CMDOP cloud' },
  EnterBackground: { why: 'mobile app lifecycle calls belong to the CMDOP cloud' },
  WakeFromBackground: { why: 'mobile app lifecycle calls belong to the CMDOP cloud' },
  QueueCommand: { why: 'queued commands belong to the CMDOP cloud; use terminal.execute()' },
  HlsGetPlaylist: { why: 'media streaming is not part of cmdop-agent' },
  HlsGetSegment: { why: 'media streaming is not part of cmdop-agent' },
  HlsStopSession: { why: 'media streaming is not part of cmdop-agent' },
  InitiateStreamingRelay: { why: 'use files.read() with offset and length, or our SDK\'s files.download()' },
  RelayChunk: { why: 'use files.read() with offset and length, or our SDK\'s files.download()' },
  GetStreamingRelayStatus: { why: 'use files.read() with offset and length, or our SDK\'s files.download()' },
  CancelStreamingRelay: { why: 'use files.read() with offset and length, or our SDK\'s files.download()' },
  SendPushNotification: { why: 'push notifications belong to the CMDOP cloud' },
  SkillList: { why: 'cmdop-agent has no skills; use agent.run()' },
  SkillShow: { why: 'cmdop-agent has no skills; use agent.run()' },
  SkillRun: { why: 'cmdop-agent has no skills; use agent.run()' },
};

export type Served = typeof SERVED;

/** The whole service: what we serve, plus raw-bytes definitions of the rest. */
export function serviceDefinition(): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = { ...(SERVED as unknown as Record<string, MethodDefinition<unknown, unknown>>) };
  for (const [name, m] of Object.entries(NOT_SERVED)) def[name] = method(name, RAW, RAW, m.responseStream, m.requestStream) as MethodDefinition<unknown, unknown>;
  return def;
}
