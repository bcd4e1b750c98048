/**
 * @pgw/client: the client SDK of the pgw presence gateway for Electron apps,
 * browsers and Node. No runtime dependencies: it uses the platform WebSocket,
 * or one passed in (the `ws` package in Node < 22).
 */
export { connect, PgwClient } from './client.js';
export type {
  ClientEvents,
  ClientFrame,
  ConnectOptions,
  ConnectionState,
  Reply,
  StateChange,
  WebSocketConstructor,
  WebSocketLike,
} from './client.js';
export { PgwError, PgwArgumentError, PgwConnectionError } from './errors.js';
export type { ConnectionErrorKind } from './errors.js';
export { PresenceView } from './view.js';
export { statusLabel, STATUS_LABELS } from './labels.js';
export type { PresenceChange, PresenceViewEvents } from './view.js';
export { CloseCode, reconnectRule, reconnectDelay, backoffDelay, defaultBackoff } from './policy.js';
export type { BackoffOptions, ReconnectRule } from './policy.js';
export {
  createSessionId,
  sharedSession,
  sessionArgument,
  sessionFromArgv,
  SESSION_IPC_CHANNEL,
  SESSION_GLOBAL,
} from './session.js';
export type { SessionWindow } from './session.js';
export { ID_PATTERN, MAX_NOTE_LENGTH, MAX_USERS_PER_FRAME } from './validate.js';
export type { Listener } from './emitter.js';
export type * from './types.js';
export { createApi, PgwApiError, MAX_QUERY_USERS, MAX_EVENTS } from './api.js';
export type {
  AbortSignalLike,
  ApiOptions,
  ApiPresence,
  FetchInit,
  FetchResponseLike,
  CallOptions,
  FetchLike,
  IPTEvent,
  IPTEventsResult,
  IPTSyncResult,
  PgwApi,
  StatusName,
  SyncDevice,
  TenantHistory,
  TenantPolicy,
  VersionedPolicy,
} from './api.js';
