/** Protocol constants. Every bound on the wire is named here, with the reason for its value. */

export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_MINOR = 0;

/** Largest data payload in one frame. Bulk data is chunked below this. */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;
/** Largest whole frame (payload + envelope). Larger WebSocket messages are a protocol error. */
export const MAX_FRAME_BYTES = MAX_FRAME_PAYLOAD + 16 * 1024;
/** Writers cut data into chunks this size so frames of other streams can interleave. */
export const DATA_CHUNK = 256 * 1024;
/** Receive window a stream starts with when the opener gives none (and for the acceptor's side). */
export const DEFAULT_WINDOW = 1024 * 1024;
/** Largest window a receiver may grant: bounds what any hop can hold per stream. */
export const MAX_WINDOW = 16 * 1024 * 1024;
/** Concurrent streams per link; one more is refused with rate_limit. */
export const MAX_STREAMS_PER_LINK = 4096;
/** A peer that has not finished the handshake in this time is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default heartbeat; a link silent for twice this is dead. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/**
 * A receiver grants credit back at least every GRANT_BATCH bytes consumed (or half its window,
 * if smaller), not only every half window: a relay can then keep little in flight on a shared
 * link without starving a big window, so a keystroke's echo never waits behind megabytes.
 * Receivers that do this announce `flow.v2`.
 */
export const GRANT_BATCH = 256 * 1024;
/**
 * Bytes a sender keeps in flight on one link (sent, not yet granted back) across its bulk streams,
 * when the peer grants in batches (flow.v2). Anything more would sit in the kernel's socket
 * buffers in front of every interactive frame: a 200 MB/s download would put ~20 ms of data ahead
 * of each keystroke's echo. Each stream may still fill what its receiver takes before it grants
 * back (GRANT_BATCH), so nothing deadlocks.
 */
export const LINK_INFLIGHT = 512 * 1024;
/** Frames this small (keystrokes, echoes, control messages) are never held for LINK_INFLIGHT. */
export const SMALL_FRAME = 4 * 1024;
/** Above this many bytes queued on the socket, data frames wait and streams take turns. */
export const LINK_HIGH_WATER = 256 * 1024;
/** Cap on a unary response collected in memory by the client. */
export const MAX_UNARY_RESPONSE = 16 * 1024 * 1024;

/** Capabilities this build speaks; newer features are gated on the peer announcing them. */
/**
 * `ai.pin.v1`: the PIN travels inside the TLS link (through the relay). A PAKE exchange that keeps
 * the PIN from the relay would be announced as `ai.pake.v1` and chosen when both ends speak it.
 */
export const CAPABILITIES = ['streams.v1', 'flow.v1', 'flow.v2', 'tunnel.v1', 'files.v1', 'ai.v1', 'ai.pin.v1', 'grants.v1', 'audit.v1', 'schedules.v1'] as const;
