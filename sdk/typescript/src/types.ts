/**
 * Wire types of the pgw contract (protocol.md §3). They mirror the JSON the
 * gateway sends; optional members are the ones the contract allows to be absent.
 */

/** A user's aggregated status (§3.2). `offline` is computed, never set. */
export type Status = 'online' | 'away' | 'busy' | 'dnd' | 'offline';

/** A status a user may set with {@link PgwClient.status}; `online` clears a manual status. */
export type ManualStatus = 'online' | 'away' | 'busy' | 'dnd';

/** The kind of device a connection declares in its hello. */
export type Device = 'desktop' | 'web' | 'mobile' | 'bridge';

/** Which window of an app a connection belongs to. */
export type WindowKind = 'main' | 'child';

/** The CALL object (§3.2). */
export interface Call {
  id: string;
  state: 'ringing' | 'in_call' | 'held' | 'ended';
  direction?: 'inbound' | 'outbound';
  peer?: string;
  since?: string;
  /** Only when ended: `hangup`, `resync`, ... */
  reason?: string;
}

/** The telephony overlay of a presence; absent for a user who owns no extension. */
export interface Phone {
  state: 'unknown' | 'unregistered' | 'idle' | 'ringing' | 'in_call' | 'held';
  ext: string;
  call?: Call;
}

/** The PRESENCE object: the same JSON in presence frames, HTTP responses and NATS. */
export interface Presence {
  type: 'presence';
  tenant: string;
  user: string;
  status: Status;
  /**
   * The name of the tenant's custom status the user set (protocol §9);
   * `status` is then its base. Show it with {@link statusLabel}.
   */
  custom?: string;
  note?: string;
  manual: boolean;
  sessions: number;
  devices: string[];
  phone?: Phone;
  /** Increases on every change of this user's presence and never goes back. */
  version: number;
  since?: string;
}

/** The `welcome` frame: the gateway's reply to hello. */
export interface Welcome {
  type: 'welcome';
  id?: number | string;
  conn: string;
  session: string;
  user: string;
  tenant: string;
  node: string;
  /** Server ping period in milliseconds. */
  heartbeat: number;
  /** The token's `exp`, Unix seconds; for a login session its expiry when read, 0 when it never expires. */
  expires: number;
  /** The caller's own presence. */
  presence: Presence;
  /** The tenant's custom statuses (protocol §9), when it has any. */
  statuses?: CustomStatus[];
}

/** A custom status of the tenant: its name, the built-in status it counts as, and the text to show. */
export interface CustomStatus {
  name: string;
  base: ManualStatus;
  label: string;
}

/** The `call` frame: a telephony event for one of the user's extensions. */
export interface CallEvent {
  type: 'call';
  tenant: string;
  user: string;
  ext: string;
  event: 'ringing' | 'answered' | 'held' | 'resumed' | 'ended';
  call: Call;
  at: string;
}

/** The `expiring` frame: the token expires at `expires` (Unix seconds). */
export interface ExpiringEvent {
  type: 'expiring';
  expires: number;
}

/** The `bye` frame the server sends before a close it chooses. */
export interface ByeEvent {
  type: 'bye';
  reason: string;
}

/** One `errors[]` entry of a problem: which field, and why. */
export interface ProblemFieldError {
  field: string;
  reason: string;
}

/** An RFC 9457 problem as the gateway sends it (§3). */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  code?: string;
  detail?: string;
  errors?: ProblemFieldError[];
  [extra: string]: unknown;
}

/** What `subscribe`/`unsubscribe` take: user ids, or the whole tenant, or both. */
export type SubscribeTarget = readonly string[] | { users?: readonly string[]; tenant?: boolean };
