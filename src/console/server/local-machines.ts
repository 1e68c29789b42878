/**
 * `cmdop ui --local`: the console against the agent on this host, with no relay. The page still
 * asks for the machine list (a relay service); here the bridge answers it with the one machine,
 * built from the agent's own status and system info. Everything else goes to the agent.
 */
import { cmdop } from '../../protocol/gen/cmdop.js';
import { NotFoundError } from '../../errors.js';
import type { Client } from '../../client/client.js';
import { CAPABILITIES } from '../../control/capabilities.js';

const v1 = cmdop.v1;
/** The id the page uses for this host in local mode (the agent ignores a local stream's target). */
export const LOCAL_MACHINE_ID = 'local';

async function machine(client: Client): Promise<cmdop.v1.IMachine> {
  const info = v1.SystemInfo.decode(await client.call('', 'system', 'info', v1.Empty.encode({}).finish()));
  const status = v1.AgentStatus.decode(await client.call('', 'agent', 'status', v1.Empty.encode({}).finish()));
  return {
    id: LOCAL_MACHINE_ID,
    hostname: info.hostname,
    name: info.hostname,
    presence: v1.Presence.ONLINE,
    lastSeenMs: Date.now(),
    agentVersion: status.version,
    os: info.platform,
    arch: info.arch,
    labels: {},
    caps: [...CAPABILITIES], // the local socket's peer is this host's own user
  };
}

/** The answer to a relay-only method in local mode, or null for a method the agent serves. */
export async function answerLocally(client: Client, service: string, method: string, request: Uint8Array): Promise<Uint8Array | null> {
  if (service !== 'machines') return null;
  if (method === 'list') return v1.ListMachinesResponse.encode({ machines: [await machine(client)], nextCursor: '' }).finish();
  if (method === 'get') {
    const want = v1.GetMachineRequest.decode(request).machine;
    const m = await machine(client);
    if (want !== LOCAL_MACHINE_ID && want !== m.hostname) throw new NotFoundError(`no machine ${want} here: this console is on the local agent only`, { detail: 'machine_not_found' });
    return v1.Machine.encode(m).finish();
  }
  return null;
}
