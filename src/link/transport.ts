/**
 * What a Link runs over: one message-oriented, ordered, reliable connection. In Node it is a `ws`
 * WebSocket (./ws-transport.ts); in the web console it is the browser's own WebSocket
 * (src/console/app/transport.ts). Nothing below the Link knows which.
 */
export interface TransportEvents {
  /** One whole message; `binary` false for a text message (a protocol error on our links). */
  message(bytes: Uint8Array, binary: boolean): void;
  close(code: number, reason: string): void;
  error(err: Error): void;
  /** What was queued has gone out: senders waiting on bufferedAmount may go on. */
  drain(): void;
}

export interface Transport {
  readonly isOpen: boolean;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** The TLS socket underneath, where there is one (cluster proofs bind to its session). */
  readonly socket: unknown;
  /** Called once, by the Link that owns this transport. */
  listen(events: TransportEvents): void;
  send(frame: Uint8Array): void;
  /** Stop reading (a browser cannot: there it is a no-op, and flow control bounds what arrives). */
  pause(): void;
  resume(): void;
  close(code: number, reason: string): void;
  /** Drop at once, without a closing handshake. */
  terminate(): void;
}
