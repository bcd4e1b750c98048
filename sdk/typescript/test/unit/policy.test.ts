import { describe, expect, it } from 'vitest';
import { backoffDelay, defaultBackoff, reconnectDelay } from '../../src/index.js';

// The close-code → rule table itself is checked against sdk/conformance/close-codes.json
// (generated from problem.Table()) in conformance.test.ts.

describe('backoff with full jitter', () => {
  const opts = { initialDelayMs: 500, maxDelayMs: 30_000, goingAwayJitterMs: 1_000 };

  it.each([
    [0, 499],
    [1, 999],
    [2, 1999],
    [5, 15_999],
    [6, 29_999],
    [40, 29_999],
  ])('attempt %i: window top is %i ms', (attempt, top) => {
    expect(backoffDelay(attempt, opts, () => 0.99999999)).toBe(top);
    expect(backoffDelay(attempt, opts, () => 0)).toBe(0);
  });

  it('spreads delays over the whole window (full jitter)', () => {
    const seen = new Set<number>();
    for (const r of [0, 0.25, 0.5, 0.75]) seen.add(backoffDelay(3, opts, () => r));
    expect([...seen]).toEqual([0, 1000, 2000, 3000]);
  });

  it.each([
    { code: 1000, attempt: 0, renew: true, want: undefined },
    { code: 1003, attempt: 0, renew: true, want: undefined },
    { code: 1009, attempt: 0, renew: true, want: undefined },
    { code: 4400, attempt: 0, renew: true, want: undefined },
    { code: 4403, attempt: 0, renew: true, want: undefined },
    { code: 4401, attempt: 0, renew: false, want: undefined },
    { code: 4401, attempt: 0, renew: true, want: 500 }, // at once, jittered within 1 s
    { code: 4401, attempt: 2, renew: true, want: 1000 }, // repeated refusals back off
    { code: 1001, attempt: 7, renew: false, want: 500 }, // at once whatever the attempt
    { code: 1008, attempt: 3, renew: false, want: 2000 },
    { code: 4408, attempt: 0, renew: false, want: 250 },
    { code: 4429, attempt: 1, renew: false, want: 500 },
    { code: 4500, attempt: 2, renew: false, want: 1000 },
  ])('reconnectDelay($code, attempt $attempt, getToken $renew) = $want', ({ code, attempt, renew, want }) => {
    expect(reconnectDelay(code, attempt, renew, defaultBackoff, () => 0.5)).toBe(want);
  });
});
