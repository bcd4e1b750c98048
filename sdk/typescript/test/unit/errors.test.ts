import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PgwError } from '../../src/index.js';
import { harness } from './fake-ws.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PgwError mapping', () => {
  it.each([
    {
      name: 'full problem with errors[]',
      problem: {
        type: 'about:blank',
        title: 'Invalid argument',
        status: 400,
        code: 'invalid_argument',
        detail: 'status: must be one of online, away, busy, dnd',
        errors: [{ field: 'status', reason: 'must be one of online, away, busy, dnd' }],
      },
      want: {
        status: 400,
        code: 'invalid_argument',
        title: 'Invalid argument',
        type: 'about:blank',
        detail: 'status: must be one of online, away, busy, dnd',
        errors: [{ field: 'status', reason: 'must be one of online, away, busy, dnd' }],
        message: 'invalid_argument: status: must be one of online, away, busy, dnd',
      },
    },
    {
      name: 'rate limited, no errors[]',
      problem: { status: 429, code: 'rate_limited', detail: '50 frames/s exceeded' },
      want: { status: 429, code: 'rate_limited', errors: [], type: 'about:blank', message: 'rate_limited: 50 frames/s exceeded' },
    },
    {
      name: 'too many subscriptions',
      problem: { type: 'https://pgw.dev/problems/too_many_subscriptions', status: 413, code: 'too_many_subscriptions', detail: 'users: 10001 > 10000' },
      want: { status: 413, code: 'too_many_subscriptions', type: 'https://pgw.dev/problems/too_many_subscriptions' },
    },
    {
      name: 'empty problem',
      problem: {},
      want: { status: 0, code: 'unknown', detail: '', errors: [], message: 'unknown' },
    },
  ])('$name', async ({ problem, want }) => {
    const h = harness();
    const ws = await h.welcome();
    const p = h.client.status('busy').catch((e) => e);
    ws.receive({ type: 'error', id: ws.last('status').id, error: problem });
    const err = await p;
    expect(err).toBeInstanceOf(PgwError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'PgwError', requestId: ws.last('status').id, ...want });
    expect(err.problem).toEqual(problem);
    // The connection stays open after an error reply.
    expect(h.client.state).toBe('open');
  });

  it('an error frame without id becomes an error event', async () => {
    const h = harness();
    const ws = await h.welcome();
    ws.receive({ type: 'error', error: { status: 400, code: 'malformed_frame', detail: 'frame is not a JSON object' } });
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toBeInstanceOf(PgwError);
    expect(h.errors[0]).toMatchObject({ code: 'malformed_frame', status: 400, requestId: undefined });
  });

  it('rejects only the request the error answers; replies are matched by id', async () => {
    const h = harness();
    const ws = await h.welcome();
    const a = h.client.status('busy');
    const b = h.client.idle(true);
    ws.receive({ type: 'error', id: ws.last('idle').id, error: { status: 400, code: 'invalid_argument', detail: 'idle' } });
    ws.ok('status');
    await expect(a).resolves.toBeUndefined();
    await expect(b).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('ignores frames that are not JSON objects and unknown frame types', async () => {
    const h = harness();
    const ws = await h.welcome();
    ws.receive('not json');
    ws.receive('[1,2]');
    ws.receive({ type: 'from_the_future' });
    expect(h.errors).toHaveLength(0);
    expect(h.client.state).toBe('open');
  });
});
