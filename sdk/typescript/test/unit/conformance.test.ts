// The shared conformance vectors of sdk/conformance (read by the Java SDK's
// tests too): the close-code table generated from problem.Table(), the
// WebSocket frames, replies and presence ordering.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PgwError, reconnectRule, type Presence } from '../../src/index.js';
import { harness, tick } from './fake-ws.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../conformance');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function vectors(name: string): any {
  return JSON.parse(readFileSync(join(dir, name), 'utf8'));
}

interface CloseCodes {
  closeCodes: Array<{ close: number; reconnect: string; reasons: string[] }>;
  unlisted: string;
}

describe('close-code table (sdk/conformance/close-codes.json, from problem.Table())', () => {
  const table = vectors('close-codes.json') as CloseCodes;

  it('lists the contract close codes', () => {
    expect(table.closeCodes.length).toBeGreaterThanOrEqual(11);
  });

  it.each(table.closeCodes.map((c) => [c.close, c.reconnect, c.reasons.join(', ')]))(
    'close %i → %s (%s)',
    (code, rule) => {
      expect(reconnectRule(code as number)).toBe(rule);
    },
  );

  it.each([1005, 1006, 1011, 1012, 4000])('unlisted close %i → the table\'s unlisted rule', (code) => {
    expect(table.closeCodes.some((c) => c.close === code)).toBe(false);
    expect(reconnectRule(code)).toBe(table.unlisted);
  });
});

interface FrameVector {
  operation: string;
  args: Record<string, unknown>;
  frame: Record<string, unknown>;
}

describe('WebSocket frames (sdk/conformance/ws.json)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const ws = vectors('ws.json');

  it.each((ws.frames as FrameVector[]).map((f) => [`${f.operation} ${JSON.stringify(f.args)}`, f]))(
    '%s',
    async (_name, f) => {
      const v = f as FrameVector;
      const a = v.args as Record<string, any>;
      if (v.operation === 'hello') {
        const h = harness({ token: a.token, session: a.session, window: a.window, device: a.device, client: a.client });
        await tick();
        const sock = h.sock();
        sock.open();
        const { id, ...frame } = sock.last('hello');
        expect(id).toBeDefined();
        expect(frame).toEqual(v.frame);
        return;
      }
      const h = harness();
      const sock = await h.welcome();
      const before = sock.sent.length;
      switch (v.operation) {
        case 'status':
          void h.client.status(a.status, a.note);
          break;
        case 'idle':
          void h.client.idle(a.idle);
          break;
        case 'subscribe':
          void h.client.subscribe(a.tenant ? { tenant: true } : a.users);
          break;
        case 'unsubscribe':
          void h.client.unsubscribe(a.users);
          break;
        case 'logout':
          void h.client.logout();
          break;
        case 'refresh':
          void h.client.refresh(a.token);
          break;
        default:
          void h.client.request({ type: v.operation, ...a });
      }
      await tick();
      const sent = sock.sent.slice(before);
      expect(sent).toHaveLength(1);
      const { id, ...frame } = sent[0]!;
      expect(id).toBeDefined();
      expect(frame).toEqual(v.frame);
    },
  );

  it.each((ws.replies as any[]).map((r) => [r.name, r]))('reply: %s', async (_name, r: any) => {
    const h = harness();
    const sock = await h.welcome();
    const before = sock.sent.length;
    const a = r.args;
    const call: Promise<unknown> =
      r.operation === 'status'
        ? h.client.status(a.status, a.note)
        : r.operation === 'subscribe'
          ? h.client.subscribe(a.users)
          : r.operation === 'refresh'
            ? h.client.refresh(a.token)
            : h.client.request({ type: r.operation, ...a });
    const settled = call.then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    await tick();
    sock.receive({ ...r.reply, id: sock.sent[before]!.id });
    // A refused subscribe closes its view, which unsubscribes: answer it.
    await tick();
    for (const f of sock.sent.slice(before + 1)) if (f.type === 'unsubscribe') sock.receive({ type: 'ok', id: f.id });
    const out = await settled;
    if (r.error) {
      expect(out.ok).toBe(false);
      const e = (out as { e: unknown }).e;
      expect(e).toBeInstanceOf(PgwError);
      const pe = e as PgwError;
      expect({ status: pe.status, code: pe.code, detail: pe.detail, errors: pe.errors }).toEqual({
        status: r.error.status,
        code: r.error.code,
        detail: r.error.detail,
        errors: r.error.errors,
      });
    } else {
      expect(out.ok).toBe(true);
      // refresh resolves with the new expires; request() with the ok fields.
      const v = (out as { v: unknown }).v;
      if (r.operation === 'refresh') expect(v).toBe(r.result.expires);
      else expect(v).toMatchObject(r.result);
    }
  });

  it.each((ws.ordering as any[]).map((o) => [o.name, o]))('ordering: %s', async (_name, o: any) => {
    const h = harness();
    let sock = await h.welcome();
    const pushes: Presence[] = [];
    h.client.on('presence', (p) => pushes.push(p));
    let view: Awaited<ReturnType<typeof h.client.subscribe>> | undefined;
    for (const step of o.steps) {
      if (step.subscribe) {
        const pending = h.client.subscribe(step.subscribe);
        sock.ok('subscribe', { presence: step.reply });
        view = await pending;
      } else if (step.reconnect) {
        sock.serverClose(1006);
        await vi.advanceTimersByTimeAsync(30_000);
        sock = await h.welcome();
        sock.ok('subscribe', { presence: step.reply });
        await tick();
        for (const p of step.reply as Presence[]) expect(view!.get(p.user)).toEqual(p);
      } else if (step.push) {
        const n = pushes.length;
        sock.receive(step.push);
        expect(view!.get(step.push.user) === undefined ? false : view!.get(step.push.user)!.version === step.push.version && view!.get(step.push.user)!.status === step.push.status && pushes.length > n).toBe(step.applied);
      }
    }
    for (const [user, want] of Object.entries(o.final as Record<string, { version: number; status: string }>)) {
      expect(view!.get(user)).toMatchObject(want);
    }
    expect(view!.size).toBe(Object.keys(o.final).length);
  });
});
