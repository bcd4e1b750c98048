import { connect, type ConnectOptions, type PgwClient, type Presence, type StateChange, type Status } from '../../src/index.js';

/** A frame as the fake server received it. */
export type Sent = Record<string, any>;

/**
 * A scripted WebSocket: the test plays the server (open, receive, serverClose)
 * and reads what the client sent. Each test makes its own class so that no
 * state is shared between tests.
 */
export function fakeWebSocketClass() {
  class FakeWebSocket {
    static instances: FakeWebSocket[] = [];
    readyState = 0;
    sent: Sent[] = [];
    closedByClient: { code?: number; reason?: string } | undefined;
    onopen: ((ev: any) => void) | null = null;
    onmessage: ((ev: any) => void) | null = null;
    onclose: ((ev: any) => void) | null = null;
    onerror: ((ev: any) => void) | null = null;

    constructor(readonly url: string) {
      FakeWebSocket.instances.push(this);
    }

    send(data: string): void {
      if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
      this.sent.push(JSON.parse(data));
    }

    close(code?: number, reason?: string): void {
      this.closedByClient = { code, reason };
      this.readyState = 3;
      queueMicrotask(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? '' }));
    }

    // ---- the server's side ----
    open(): void {
      this.readyState = 1;
      this.onopen?.({});
    }

    receive(frame: unknown): void {
      this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
    }

    serverClose(code: number, reason = ''): void {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }

    /** The frames of one type the client sent on this socket. */
    frames(type: string): Sent[] {
      return this.sent.filter((f) => f.type === type);
    }

    /** The last frame of `type`; fails the test when there is none. */
    last(type: string): Sent {
      const f = this.frames(type).at(-1);
      if (!f) throw new Error(`no ${type} frame sent; sent: ${JSON.stringify(this.sent)}`);
      return f;
    }

    /** Answers the last request of `type` with ok and extra fields. */
    ok(type: string, fields: Record<string, unknown> = {}): void {
      this.receive({ type: 'ok', id: this.last(type).id, ...fields });
    }
  }
  return FakeWebSocket;
}

export type FakeWS = InstanceType<ReturnType<typeof fakeWebSocketClass>>;

/** Lets pending promise callbacks run (no timers involved). */
export async function tick(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** A PRESENCE object. */
export function presence(user: string, version: number, status: Status = 'online', extra: Record<string, unknown> = {}): Presence {
  return {
    type: 'presence' as const,
    tenant: 'acme',
    user,
    status,
    manual: false,
    sessions: status === 'offline' ? 0 : 1,
    devices: status === 'offline' ? [] : ['desktop'],
    version,
    since: '2026-11-26T09:00:00Z',
    ...extra,
  };
}

/** A client on a fake socket, with its state changes recorded. */
export function harness(opts: Partial<ConnectOptions> = {}) {
  const WS = fakeWebSocketClass();
  const client: PgwClient = connect({
    url: 'ws://gw.test/v1/ws',
    token: 'tok-1',
    device: 'desktop',
    session: 'sess-1',
    WebSocket: WS,
    random: () => 0.5,
    ...opts,
  } as ConnectOptions);
  const states: StateChange[] = [];
  client.on('state', (s) => states.push(s));
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  return {
    client,
    WS,
    states,
    errors,
    /** The newest socket. */
    sock(): FakeWS {
      const s = WS.instances.at(-1);
      if (!s) throw new Error('no socket made yet');
      return s;
    },
    /** Opens the newest socket and answers its hello with welcome. */
    async welcome(fields: Record<string, unknown> = {}): Promise<FakeWS> {
      await tick();
      const ws = this.sock();
      ws.open();
      const hello = ws.last('hello');
      ws.receive({
        type: 'welcome',
        id: hello.id,
        conn: `c${WS.instances.length}`,
        session: hello.session ?? 'server-made',
        user: 'u1',
        tenant: 'acme',
        node: 'n1',
        heartbeat: 25000,
        expires: Math.floor(Date.now() / 1000) + 3600,
        presence: presence('u1', 1),
        ...fields,
      });
      await tick();
      return ws;
    },
  };
}
