/**
 * Every `detail` sub-code an error may carry, with what it means: one documented union
 * (ws documents its WS_ERR_* codes in one page the same way). A detail refines a code; callers
 * may branch on it. Adding one here is the only way to use a new one (the type is checked).
 */
export const ERROR_DETAILS = {
  // links and identity
  unsupported_version: 'the peer speaks another major protocol version (the message says which side to upgrade)',
  tls_untrusted: "the relay's certificate is not trusted: pin it (--fingerprint) or trust its CA (--ca)",
  not_enrolled: 'the relay does not know this machine: enrol it again with a join token',
  admin_unavailable: "the relay is running but its admin socket did not answer; nothing was changed",
  link_lost: "this side's link dropped while the call was in flight (the client reports it as ConnectionError)",
  agent_not_running: 'no local agent answers on this host (its discovery file is stale or missing)',
  // relay cluster
  relay_draining: 'this relay node is draining (a rolling upgrade): connect to another node, after the retry-after hint',
  node_unreachable: 'the relay node that holds the machine cannot be reached from this node now',
  // machines
  machine_offline: 'the machine is enrolled but has no live link now',
  machine_disabled: 'the machine was disabled on the relay',
  machine_not_found: 'no machine has that id, hostname or name',
  // control plane
  missing_grant: "the key's grants do not include the capability this call needs (the message names it)",
  key_expired: 'the API key is past its expiry',
  store_unavailable: "the relay's store (PostgreSQL) cannot be reached now; the relay reconnects by itself",
  fleet_disabled: 'the fleet is disabled',
  fleet_not_found: 'no fleet has that id or name',
  audit_broken: 'an audit record does not follow the one before it (edited, deleted or reordered)',
  // schedules
  bad_cron: 'not a 5-field cron expression croner accepts (the message says which field)',
  bad_time_zone: 'not an IANA time zone name',
  schedule_not_found: 'no schedule has that id or name (or it is outside the key\'s reach)',
  // terminals
  session_not_found: 'no terminal session has that id on the machine',
  observer: 'observers cannot send input, resize or signal',
  bad_size: 'a terminal size outside 1..2000 columns by 1..1000 rows',
  unknown_signal: 'a signal name outside the supported list',
  // session recordings
  recording_failed: 'strict recording is on and the recording cannot be written (a full disk, say): the session was refused or ended',
  recording_not_found: 'no recording of that session is kept on the machine (never recorded, or removed by retention)',
  bad_asciicast: 'not an asciicast v2 recording (the message gives the line and what is wrong)',
  // files
  outside_jail: "the path (or where it leads) is outside the agent's file roots",
  hardlink: 'under a jail, a regular file with more than one hard link is not read',
  read_only: "the agent's files are read-only",
  file_not_found: 'no such file or directory',
  permission_denied: "the agent's OS user may not do that to the file",
  already_exists: 'the destination exists (pass overwrite to replace it)',
  not_a_directory: 'a path component is not a directory',
  is_a_directory: 'the path is a directory where a file was expected',
  directory_not_empty: 'the directory is not empty (pass recursive)',
  file_too_large: 'over the size a buffered call allows: stream it instead',
  no_space: 'the disk (or quota) is full',
  resume_mismatch: "an upload resume does not match what the agent holds: start again from 0",
  watch_closed: 'the watch ended (its directory went away, or the agent stopped it)',
  // tunnels
  connect_failed: 'the agent could not connect to the tunnel target',
  reset: 'the tunnel target reset the connection',
  // AI agent
  pin_required: 'this machine needs its PIN before an ask',
  pin_denied: 'the PIN was wrong (or tried too soon after failures)',
  pin_locked: 'the PIN is locked for this key, or for everyone, until `cmdop-agent pin unlock`',
  pin_not_set: 'no PIN is set on the machine (and its config does not say "pin": "off")',
  pin_timeout: 'nobody gave the PIN in time',
  budget_exhausted: "the machine's daily AI budget is spent",
  iteration_limit: 'the agent loop reached its model-call limit',
  schema_mismatch: 'the answer did not match the output schema after the repair turns',
  ai_unreachable: "the machine's AI endpoint did not answer",
} as const;

export type ErrorDetail = keyof typeof ERROR_DETAILS;
