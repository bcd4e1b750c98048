import { Emitter } from './emitter.js';
import { statusLabel } from './labels.js';
import { PgwArgumentError, PgwConnectionError, PgwError } from './errors.js';
import { defaultBackoff, reconnectDelay, type BackoffOptions } from './policy.js';
import type {
  ByeEvent,
  CallEvent,
  Device,
  ExpiringEvent,
  ManualStatus,
  Presence,
  Problem,
  SubscribeTarget,
  Welcome,
  WindowKind,
} from './types.js';
import {
  MAX_USERS_PER_FRAME,
  checkConnectOptions,
  checkIdle,
  checkStatus,
  checkTarget,
} from './validate.js';
import { PresenceView, type ViewOwner } from './view.js';

/**
 * The part of a WebSocket the client uses: the browser's, Electron's,
 * Node 22's global one, or the `ws` package's all fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  // Handler parameters are `any` so that both DOM and `ws` typings fit.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor, e.g. `globalThis.WebSocket` or `import WebSocket from 'ws'`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The connection state of a client. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The payload of the `state` event. */
export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** The close code that caused this change, if one did. */
  code?: number;
  /** The close reason (a problem code such as `shutdown`). */
  reason?: string;
  /** For `reconnecting`: how long until the next attempt, ms. */
  delayMs?: number;
  /** For `reconnecting`: failed attempts since the last welcome, from 1. */
  attempt?: number;
  /** For `closed` after a refusal: the server's problem. */
  error?: Error;
}

/** Events of a {@link PgwClient}. */
export interface ClientEvents {
  /** The connection state changed. */
  state: StateChange;
  /** A hello was accepted (first connect and every reconnect). */
  welcome: Welcome;
  /** A newer presence of a subscribed user (pushes and subscribe snapshots). */
  presence: Presence;
  /** A telephony event for one of the user's extensions. */
  call: CallEvent;
  /** The token expires soon; the client refreshes it itself when getToken was given. */
  expiring: ExpiringEvent;
  /** The server is about to close the connection, and says why. */
  bye: ByeEvent;
  /** A problem with no request to reject: an error frame without id, a failed token refresh. */
  error: Error;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The gateway's WebSocket URL, e.g. `wss://pgw.example.com/v1/ws`. */
  url: string;
  /** A JWT. Give this, `getToken`, `login` or `loginCookie`. */
  token?: string;
  /**
   * Returns a fresh JWT. Called before every (re)connect, on `expiring`, and
   * before the token's `expires`; lets the client recover from 4401.
   */
  getToken?: () => string | Promise<string>;
  /**
   * A login session id instead of a token: the id of the web app's
   * server-side session kept in Redis (Spring Session's `session.getId()`),
   * sent as `hello.login` (gateway docs/login-sessions.md). A login
   * connection is refused or closed `4401` `login_*` when the web session is
   * gone; the client then stops (log in to the app again).
   */
  login?: string;
  /**
   * Authenticate by the web app's login cookie, which the browser sends with
   * the upgrade itself (a page served on the app's own origin): `hello`
   * carries no credential. Give `true`.
   */
  loginCookie?: boolean;
  /** The session id shared by every window of the app (see `sharedSession`). */
  session?: string;
  /** `main` (default) or `child`. */
  window?: WindowKind;
  /** What kind of device this is. */
  device: Device;
  /** `name/version` of the app, sent in hello. */
  client?: string;
  /** WebSocket implementation; defaults to `globalThis.WebSocket`. In Node < 22 pass `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delays (see the close-code table). */
  reconnect?: Partial<BackoffOptions> & {
    /** Consecutive 4401 refusals, each with a new token, before giving up (default 3). */
    maxAuthRetries?: number;
  };
  /** How long a sent request waits for its reply, ms (default 10 000). */
  requestTimeoutMs?: number;
  /** Source of randomness for the jitter (tests). Default Math.random. */
  random?: () => number;
}

/** A reply to a request: the `ok` frame's result fields. */
export type Reply = Record<string, unknown>;

/** A frame the client may send with {@link PgwClient.request}. */
export interface ClientFrame {
  type: string;
  [field: string]: unknown;
}

interface Pending {
  frame: ClientFrame;
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
  /** Re-send after a reconnect when the reply was lost. */
  retry: boolean;
  /**
   * A subscribe of users and tenant already registered in `subs` and
   * `tenantSubs`: while it waits in the queue, the re-subscribe of the next
   * welcome asks for all it asks for, and answers it instead.
   */
  covered?: boolean;
  id?: number;
  timer?: ReturnType<typeof setTimeout>;
}

const CLIENT_NAME = 'pgw-client-ts/0.1.0';
const MAX_TIMER_MS = 2_147_483_647;
const REFRESH_LEAD_MS = 65_000;

/**
 * Connects to the gateway and returns the client at once; it keeps the
 * connection up by the contract's close-code rules until {@link PgwClient.close}
 * or {@link PgwClient.logout}. Throws {@link PgwArgumentError} for bad options.
 */
export function connect(options: ConnectOptions): PgwClient {
  return new PgwClient(options);
}

/**
 * One connection of one window to the gateway, kept alive across drops:
 * it re-sends hello with the same session, re-subscribes, applies the
 * snapshots and ignores stale presence versions.
 */
export class PgwClient extends Emitter<ClientEvents> implements ViewOwner {
  private readonly opts: ConnectOptions;
  private readonly WS: WebSocketConstructor;
  private readonly backoff: BackoffOptions;
  private readonly maxAuthRetries: number;
  private readonly requestTimeoutMs: number;
  private readonly random: () => number;

  private ws: WebSocketLike | undefined;
  private currentState: ConnectionState = 'connecting';
  private sessionId: string | undefined;
  private lastWelcome: Welcome | undefined;
  private token: string | undefined;
  private expiresAt: number | undefined;
  private helloId: number | undefined;
  private helloError: PgwError | undefined;
  private lastBye: string | undefined;
  private closeError: Error | undefined;
  private nextId = 1;
  private generation = 0;
  private attempt = 0;
  private authFailures = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private helloTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshing = false;
  private loggingOut: Pending | undefined;
  private lastIdle: boolean | undefined;

  private readonly queue: Pending[] = [];
  private readonly inflight = new Map<number, Pending>();
  private readonly readyWaiters: Array<{ resolve: (w: Welcome) => void; reject: (e: Error) => void }> = [];

  /**
   * Highest version per user on the current connection (contract §3.2):
   * pushes at or below it are dropped. Cleared on every new connection, so
   * its subscribe reply is the new starting point even where a version in it
   * is lower (Redis may have restarted empty while the client was away).
   */
  private readonly versions = new Map<string, number>();
  private readonly known = new Map<string, Presence>();
  /** Subscribed users, counted by the views that want them. */
  private readonly subs = new Map<string, number>();
  private tenantSubs = 0;
  private readonly views = new Set<PresenceView>();

  /** Use {@link connect}. */
  constructor(options: ConnectOptions) {
    super();
    checkConnectOptions(options);
    const WS =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WS !== 'function') {
      throw new PgwArgumentError(
        'connect',
        'WebSocket',
        'is required here: this runtime has no global WebSocket; pass one, e.g. { WebSocket } from the ws package',
      );
    }
    this.opts = options;
    this.WS = WS;
    this.backoff = { ...defaultBackoff, ...stripUndefined(options.reconnect ?? {}) };
    this.maxAuthRetries = options.reconnect?.maxAuthRetries ?? 3;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.random = options.random ?? Math.random;
    this.sessionId = options.session;
    this.token = options.token;
    void this.openSocket();
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The session id: the one given, or the one the server made (after welcome). */
  get session(): string | undefined {
    return this.sessionId;
  }

  /** The last welcome, undefined before the first. */
  get welcome(): Welcome | undefined {
    return this.lastWelcome;
  }

  /** The current token's `exp` (Unix seconds), once known. */
  get expires(): number | undefined {
    return this.expiresAt;
  }

  /** The newest presence the client holds for `user`. */
  presence(user: string): Presence | undefined {
    return this.known.get(user);
  }

  /**
   * Resolves with the welcome once the connection is open (at once if it is);
   * rejects if the client closes for good first (with the server's
   * {@link PgwError} when a hello was refused).
   */
  ready(): Promise<Welcome> {
    if (this.currentState === 'open' && this.lastWelcome) return Promise.resolve(this.lastWelcome);
    if (this.currentState === 'closed') return Promise.reject(this.terminalError());
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /**
   * Sets the user's manual status (`online` clears it), with an optional note
   * (≤ 140 characters). A custom status of the tenant (listed in the welcome's
   * `statuses`) is given by its name.
   */
  async status(status: ManualStatus | (string & {}), note?: string): Promise<void> {
    checkStatus(status, note, this.lastWelcome?.statuses?.map((s) => s.name) ?? []);
    const frame: ClientFrame = { type: 'status', status };
    if (note !== undefined) frame.note = note;
    await this.send(frame, true);
  }

  /** The text to show for a presence: its custom status's label (from the welcome), else the built-in status's. */
  label(p: Presence): string {
    return statusLabel(p, this.lastWelcome?.statuses);
  }

  /** Sets this session's idle flag (the app's own idle detection). Re-asserted after reconnects. */
  async idle(idle: boolean): Promise<void> {
    checkIdle(idle);
    this.lastIdle = idle;
    await this.send({ type: 'idle', idle }, true);
  }

  /**
   * Subscribes to users (an array, or `{ users }`) and/or the whole tenant
   * (`{ tenant: true }`). Resolves, once the snapshot is in, with a live view.
   */
  async subscribe(target: SubscribeTarget): Promise<PresenceView> {
    const t = checkTarget('subscribe', target);
    if (this.currentState === 'closed') throw this.terminalError();
    const view = new PresenceView(this, t.users, t.tenant);
    this.views.add(view);
    for (const u of t.users) this.subs.set(u, (this.subs.get(u) ?? 0) + 1);
    if (t.tenant) this.tenantSubs++;
    try {
      const list = await this.sendSubscribe(t.users, t.tenant);
      this.applySnapshot(list, t.tenant);
      for (const u of t.users) {
        const p = this.known.get(u);
        if (p) view.put(p);
      }
      if (t.tenant) for (const p of list) view.put(this.known.get(p.user) ?? p);
    } catch (err) {
      await view.close().catch(() => undefined);
      throw err;
    }
    return view;
  }

  /**
   * Unsubscribes from users and/or the tenant, whichever views asked for
   * them (those views stop holding them).
   */
  async unsubscribe(target: SubscribeTarget): Promise<void> {
    const t = checkTarget('unsubscribe', target);
    for (const u of t.users) this.subs.delete(u);
    for (const v of this.views) v.drop(t.users);
    if (t.tenant) {
      this.tenantSubs = 0;
      for (const v of this.views) v.dropTenant();
    }
    await this.sendUnsubscribe(t.users, t.tenant);
  }

  /**
   * Ends this session on every window and node now (no grace). Resolves when
   * the server confirmed or closed with 1000 `logged_out`; the client is then
   * closed for good.
   */
  logout(): Promise<void> {
    if (this.currentState === 'closed') return Promise.reject(this.terminalError());
    return new Promise<Reply>((resolve, reject) => {
      const p: Pending = { frame: { type: 'logout' }, resolve, reject, retry: false };
      this.loggingOut = p;
      this.enqueue(p);
    }).then(() => undefined);
  }

  /**
   * Replaces the connection's token (same user and tenant) and returns the
   * new `expires`. Without an argument, gets one from getToken.
   */
  async refresh(token?: string): Promise<number> {
    if (token === undefined) {
      if (!this.opts.getToken) {
        throw new PgwArgumentError('refresh', 'token', 'is required when connect() was given no getToken');
      }
      token = await this.fetchToken();
    } else if (typeof token !== 'string' || token === '') {
      throw new PgwArgumentError('refresh', 'token', 'must be a non-empty string');
    }
    const reply = await this.send({ type: 'refresh', token }, false);
    this.token = token;
    if (typeof reply.expires === 'number') {
      this.expiresAt = reply.expires;
      this.scheduleRefresh();
    }
    return this.expiresAt ?? 0;
  }

  /**
   * Sends any frame of the contract and resolves with the `ok` reply's
   * fields, or rejects with a {@link PgwError}. Waits for the connection to
   * be open. For frames this SDK has no method for (e.g. `ipt.event`).
   */
  async request(frame: ClientFrame): Promise<Reply> {
    if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string' || frame.type === '') {
      throw new PgwArgumentError('request', 'frame.type', 'is required: a frame type of the contract');
    }
    if (frame.type === 'hello') {
      throw new PgwArgumentError('request', 'frame.type', 'must not be hello: the client sends hello itself');
    }
    return this.send(frame, false);
  }

  /**
   * Closes the connection for good (1000) without logging out: the session
   * ends after the server's grace unless another window keeps it.
   */
  close(): void {
    if (this.currentState === 'closed') return;
    const ws = this.ws;
    this.ws = undefined;
    this.closeError = new PgwConnectionError('closed', 'the client was closed', 1000, 'client_close');
    this.toClosed({ code: 1000, reason: 'client_close' });
    if (ws) {
      detach(ws);
      try {
        ws.close(1000, 'client_close');
      } catch {
        // Already closing: nothing to do.
      }
    }
  }

  /** Logout was confirmed but the server did not close: close locally. */
  private finishLogout(): void {
    const p = this.loggingOut;
    if (!p) return;
    this.loggingOut = undefined;
    this.close();
    p.resolve({});
  }

  // ---- ViewOwner ---------------------------------------------------------

  /** @internal Called by {@link PresenceView.close}. */
  async releaseView(view: PresenceView): Promise<void> {
    if (!this.views.delete(view)) return;
    const gone: string[] = [];
    for (const u of view.users) {
      const n = (this.subs.get(u) ?? 0) - 1;
      if (n > 0) this.subs.set(u, n);
      else if (this.subs.delete(u)) gone.push(u);
    }
    let tenantGone = false;
    if (view.tenant && this.tenantSubs > 0) {
      this.tenantSubs--;
      tenantGone = this.tenantSubs === 0;
    }
    await this.sendUnsubscribe(gone, tenantGone);
  }

  // ---- connection ---------------------------------------------------------

  private async openSocket(): Promise<void> {
    const gen = ++this.generation;
    let token: string;
    try {
      token = this.opts.getToken ? await this.withTimeout(this.fetchToken(), 'getToken') : (this.token ?? '');
    } catch (err) {
      if (gen !== this.generation || this.currentState === 'closed') return;
      this.emit('error', asError(err));
      this.afterClose(1006, 'get_token_failed');
      return;
    }
    if (gen !== this.generation || this.currentState === 'closed') return;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.opts.url);
    } catch (err) {
      this.closeError = asError(err);
      this.toClosed({ code: 1006, reason: 'bad_url', error: this.closeError });
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      // A hello that is never answered (a stuck node) must not hang the
      // client: give up on this socket and retry with backoff.
      this.helloTimer = setTimeout(() => {
        if (this.ws !== ws) return;
        this.ws = undefined;
        detach(ws);
        try {
          ws.close(4000, 'no_welcome');
        } catch {
          // Closing anyway.
        }
        this.afterClose(4000, 'no_welcome');
      }, this.requestTimeoutMs);
      this.helloId = this.nextId++;
      const hello: ClientFrame = {
        type: 'hello',
        id: this.helloId,
        window: this.opts.window ?? 'main',
        device: this.opts.device,
        client: this.opts.client ?? CLIENT_NAME,
      };
      // One credential: the token, else a login session id; with
      // loginCookie none (the browser sent the app's cookie with the upgrade).
      if (token !== '') hello.token = token;
      else if (this.opts.login !== undefined) hello.login = this.opts.login;
      if (this.sessionId) hello.session = this.sessionId;
      this.rawSend(ws, hello);
    };
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.ws !== ws) return;
      const frame = parseFrame(ev.data);
      if (frame) this.onFrame(frame);
    };
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      detach(ws);
      this.afterClose(typeof ev.code === 'number' ? ev.code : 1006, ev.reason ?? '');
    };
    ws.onerror = () => {
      // A close event always follows; the close code decides what to do.
    };
  }

  private afterClose(code: number, reason: string): void {
    this.helloId = undefined;
    clearTimeout(this.helloTimer);
    this.clearRefresh();
    const bye = this.lastBye;
    this.lastBye = undefined;
    if (!reason && bye) reason = bye;

    // Requests whose reply was lost: re-send the idempotent ones after the
    // next welcome, in their order; fail the others.
    const lost = [...this.inflight.values()].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
    this.inflight.clear();
    const requeue: Pending[] = [];
    for (const p of lost) {
      clearTimeout(p.timer);
      p.id = undefined;
      if (p === this.loggingOut) continue;
      if (p.retry) requeue.push(p);
      else p.reject(new PgwConnectionError('lost', `the connection closed (${code} ${reason}) before the reply to ${p.frame.type}`, code, reason));
    }
    this.queue.unshift(...requeue);

    if (this.loggingOut) {
      const p = this.loggingOut;
      this.loggingOut = undefined;
      clearTimeout(p.timer);
      this.closeError = new PgwConnectionError('closed', 'logged out', code, reason);
      if (code === 1000) p.resolve({});
      else p.reject(new PgwConnectionError('lost', `the connection closed (${code} ${reason}) during logout; the session ends after the server's grace`, code, reason));
      this.toClosed({ code, reason });
      return;
    }

    let attempt = this.attempt;
    if (code === 4401) {
      this.authFailures++;
      if (this.authFailures > this.maxAuthRetries) attempt = -1;
    }
    const delay =
      attempt < 0
        ? undefined
        : reconnectDelay(code, attempt, this.opts.getToken !== undefined, this.backoff, this.random);
    if (delay === undefined) {
      this.closeError =
        this.helloError ??
        new PgwConnectionError(
          'closed',
          `the gateway closed the connection with ${code}${reason ? ` (${reason})` : ''}; the contract says not to reconnect`,
          code,
          reason,
        );
      this.toClosed({ code, reason, error: this.closeError });
      return;
    }
    this.helloError = undefined;
    this.attempt++;
    this.setState('reconnecting', { code, reason, delayMs: delay, attempt: this.attempt });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.openSocket();
    }, delay);
  }

  private onFrame(frame: Record<string, unknown>): void {
    switch (frame.type) {
      case 'welcome':
        if (this.helloId !== undefined && frame.id === this.helloId) this.onWelcome(frame as unknown as Welcome);
        return;
      case 'ok': {
        const p = typeof frame.id === 'number' ? this.inflight.get(frame.id) : undefined;
        if (!p) return;
        this.inflight.delete(p.id as number);
        clearTimeout(p.timer);
        if (p === this.loggingOut) {
          // The server closes every connection of the session next (bye,
          // 1000 logged_out); logout() resolves on that close. Should it not
          // come, close locally.
          p.timer = setTimeout(() => this.finishLogout(), this.requestTimeoutMs);
          return;
        }
        const { type: _t, id: _i, ...result } = frame;
        p.resolve(result);
        return;
      }
      case 'error': {
        const problem = (frame.error && typeof frame.error === 'object' ? frame.error : {}) as Problem;
        const id = frame.id as number | string | undefined;
        const err = new PgwError(problem, id);
        if (id !== undefined && id === this.helloId) {
          this.helloError = err;
          return;
        }
        const p = typeof id === 'number' ? this.inflight.get(id) : undefined;
        if (p) {
          this.inflight.delete(id as number);
          clearTimeout(p.timer);
          if (p === this.loggingOut) this.loggingOut = undefined;
          p.reject(err);
        } else {
          this.emit('error', err);
        }
        return;
      }
      case 'presence':
        if (isPresence(frame)) this.accept(frame);
        return;
      case 'call':
        this.emit('call', frame as unknown as CallEvent);
        return;
      case 'expiring':
        if (typeof frame.expires === 'number') this.expiresAt = frame.expires;
        this.emit('expiring', frame as unknown as ExpiringEvent);
        void this.autoRefresh();
        return;
      case 'bye':
        this.lastBye = typeof frame.reason === 'string' ? frame.reason : '';
        this.emit('bye', frame as unknown as ByeEvent);
        return;
      default:
        // Frame types from a newer contract are ignored.
        return;
    }
  }

  private onWelcome(w: Welcome): void {
    clearTimeout(this.helloTimer);
    // A new connection: what the old one delivered no longer orders anything.
    this.versions.clear();
    this.lastWelcome = w;
    if (typeof w.session === 'string' && w.session) this.sessionId = w.session;
    if (typeof w.expires === 'number') this.expiresAt = w.expires;
    this.attempt = 0;
    this.authFailures = 0;
    this.helloError = undefined;
    this.setState('open', {});
    this.emit('welcome', w);
    for (const r of this.readyWaiters.splice(0)) r.resolve(w);
    this.scheduleRefresh();
    void this.resubscribe();
    if (this.lastIdle === true) this.send({ type: 'idle', idle: true }, true).catch((e) => this.emit('error', asError(e)));
    this.flush();
  }

  /**
   * Subscribes on the new connection to every user and the tenant still
   * wanted, in one request (split only past the per-frame limit). Subscribes
   * still queued (made while not open, or whose reply the last connection
   * lost) ask for a part of that: they leave the queue and settle with this
   * reply, so the server gets one subscribe per need.
   */
  private async resubscribe(): Promise<void> {
    const covered = this.queue.filter((p) => p.covered);
    if (covered.length > 0) this.queue.splice(0, this.queue.length, ...this.queue.filter((p) => !p.covered));
    const tenant = this.tenantSubs > 0;
    try {
      const list = await this.sendSubscribe([...this.subs.keys()], tenant);
      this.applySnapshot(list, tenant);
      for (const p of covered) p.resolve({ presence: list });
    } catch (err) {
      for (const p of covered) p.reject(asError(err));
      // A lost reply re-sends on the next welcome; anything else is reported.
      if (!(err instanceof PgwConnectionError && err.kind !== 'timeout')) this.emit('error', asError(err));
    }
  }

  private toClosed(change: Omit<StateChange, 'state' | 'previous'>): void {
    this.generation++;
    clearTimeout(this.helloTimer);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.clearRefresh();
    const err = this.terminalError();
    for (const p of this.queue.splice(0)) p.reject(err);
    for (const p of this.inflight.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.inflight.clear();
    this.setState('closed', change);
    for (const r of this.readyWaiters.splice(0)) r.reject(err);
  }

  private terminalError(): Error {
    return this.closeError ?? new PgwConnectionError('closed', 'the client is closed');
  }

  private setState(state: ConnectionState, change: Omit<StateChange, 'state' | 'previous'>): void {
    const previous = this.currentState;
    this.currentState = state;
    this.emit('state', { state, previous, ...stripUndefined(change) });
  }

  // ---- requests -----------------------------------------------------------

  private send(frame: ClientFrame, retry: boolean, covered = false): Promise<Reply> {
    if (this.currentState === 'closed') return Promise.reject(this.terminalError());
    return new Promise((resolve, reject) => this.enqueue({ frame, resolve, reject, retry, covered }));
  }

  private enqueue(p: Pending): void {
    if (this.currentState === 'open' && this.ws && this.queue.length === 0) this.transmit(p);
    else this.queue.push(p);
  }

  private flush(): void {
    while (this.queue.length > 0 && this.currentState === 'open' && this.ws) {
      this.transmit(this.queue.shift() as Pending);
    }
  }

  private transmit(p: Pending): void {
    const ws = this.ws as WebSocketLike;
    p.id = this.nextId++;
    this.inflight.set(p.id, p);
    p.timer = setTimeout(() => {
      if (p.id === undefined || this.inflight.get(p.id) !== p) return;
      this.inflight.delete(p.id);
      if (p === this.loggingOut) this.loggingOut = undefined;
      p.reject(new PgwConnectionError('timeout', `no reply to ${p.frame.type} within ${this.requestTimeoutMs} ms`));
    }, this.requestTimeoutMs);
    // If the socket is already closing, the close handler re-queues or fails it.
    this.rawSend(ws, { ...p.frame, id: p.id });
  }

  private rawSend(ws: WebSocketLike, frame: ClientFrame): void {
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      // The close event follows and decides.
    }
  }

  private async sendSubscribe(users: string[], tenant: boolean): Promise<Presence[]> {
    const frames: ClientFrame[] = [];
    for (let i = 0; i < users.length; i += MAX_USERS_PER_FRAME) {
      frames.push({ type: 'subscribe', users: users.slice(i, i + MAX_USERS_PER_FRAME) });
    }
    if (tenant) {
      if (frames.length > 0) (frames[0] as ClientFrame).tenant = true;
      else frames.push({ type: 'subscribe', tenant: true });
    }
    const replies = await Promise.all(frames.map((f) => this.send(f, true, true)));
    const out: Presence[] = [];
    for (const r of replies) {
      if (Array.isArray(r.presence)) for (const p of r.presence) if (isPresence(p)) out.push(p);
    }
    return out;
  }

  private async sendUnsubscribe(users: string[], tenant: boolean): Promise<void> {
    // While disconnected there is nothing to undo: the re-subscribe after the
    // next welcome only names what is still subscribed.
    if (this.currentState !== 'open' || (users.length === 0 && !tenant)) return;
    const frames: ClientFrame[] = [];
    for (let i = 0; i < users.length; i += MAX_USERS_PER_FRAME) {
      frames.push({ type: 'unsubscribe', users: users.slice(i, i + MAX_USERS_PER_FRAME) });
    }
    if (tenant) frames.push({ type: 'unsubscribe', tenant: true });
    try {
      await Promise.all(frames.map((f) => this.send(f, false)));
    } catch (err) {
      if (err instanceof PgwConnectionError) return;
      throw err;
    }
  }

  // ---- presence -----------------------------------------------------------

  /**
   * Takes p if it is newer than what this connection delivered for its user
   * (or the first on this connection). The same object the client already
   * holds (a reconnect's snapshot of a user who did not change) is no change.
   */
  private accept(p: Presence): boolean {
    const have = this.versions.get(p.user);
    if (have !== undefined && p.version <= have) return false;
    this.versions.set(p.user, p.version);
    const old = this.known.get(p.user);
    if (old && old.version === p.version && JSON.stringify(old) === JSON.stringify(p)) return false;
    this.known.set(p.user, p);
    this.emit('presence', p);
    for (const v of this.views) v.put(p);
    return true;
  }

  /**
   * Applies a subscribe reply. For a tenant snapshot (which lists only users
   * who are not offline), users a tenant view still shows as present but the
   * snapshot omits went offline while the client was away.
   */
  private applySnapshot(list: Presence[], tenant: boolean): void {
    for (const p of list) this.accept(p);
    if (!tenant) return;
    const listed = new Set(list.map((p) => p.user));
    for (const v of this.views) {
      if (!v.tenant) continue;
      for (const u of v.heldUsers()) {
        const prev = v.get(u);
        if (!prev || listed.has(u) || prev.status === 'offline' || this.subs.has(u)) continue;
        const cur = this.known.get(u) ?? prev;
        if (cur.version > prev.version) continue;
        const off: Presence = { ...cur, status: 'offline', manual: false, sessions: 0, devices: [] };
        delete off.note;
        this.known.set(u, off);
        this.emit('presence', off);
        for (const w of this.views) if (w.has(u)) w.put(off);
      }
    }
  }

  // ---- token refresh --------------------------------------------------------

  /** Rejects when `p` does not settle within the request timeout. */
  private withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new PgwConnectionError('timeout', `${what} did not answer within ${this.requestTimeoutMs} ms`)),
        this.requestTimeoutMs,
      );
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private async fetchToken(): Promise<string> {
    const getToken = this.opts.getToken as () => string | Promise<string>;
    const token = await getToken();
    if (typeof token !== 'string' || token === '') {
      throw new PgwArgumentError('getToken', 'getToken', `must return a non-empty string (got ${typeof token})`);
    }
    this.token = token;
    return token;
  }

  private scheduleRefresh(): void {
    this.clearRefresh();
    if (!this.opts.getToken || this.expiresAt === undefined || this.currentState !== 'open') return;
    const left = this.expiresAt * 1000 - Date.now();
    // Refresh a little before the server's `expiring` (≈60 s before exp);
    // short-lived tokens at half their remaining life.
    const delay = Math.min(MAX_TIMER_MS, Math.max(1_000, left > 2 * REFRESH_LEAD_MS ? left - REFRESH_LEAD_MS : left / 2));
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.autoRefresh();
    }, delay);
  }

  private clearRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  private async autoRefresh(): Promise<void> {
    if (!this.opts.getToken || this.refreshing || this.currentState !== 'open') return;
    this.refreshing = true;
    try {
      await this.refresh();
    } catch (err) {
      // A lost reply is harmless: the reconnect gets a fresh token anyway.
      if (!(err instanceof PgwConnectionError && err.kind === 'lost')) this.emit('error', asError(err));
    } finally {
      this.refreshing = false;
    }
  }
}

function detach(ws: WebSocketLike): void {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
}

function parseFrame(data: unknown): Record<string, unknown> | undefined {
  let text: string;
  if (typeof data === 'string') text = data;
  else if (data instanceof ArrayBuffer) text = new TextDecoder().decode(data);
  else if (ArrayBuffer.isView(data)) text = new TextDecoder().decode(data);
  else return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isPresence(v: unknown): v is Presence {
  const p = v as Presence;
  return !!p && typeof p === 'object' && typeof p.user === 'string' && typeof p.version === 'number' && typeof p.status === 'string';
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function stripUndefined<T extends object>(o: T): T {
  const out = {} as T;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
