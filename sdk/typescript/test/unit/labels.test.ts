// Custom statuses of a tenant (protocol §9): set by name, shown by label.
import { describe, expect, it } from 'vitest';
import { PgwArgumentError, statusLabel } from '../../src/index.js';
import { harness, presence } from './fake-ws.js';

const statuses = [
  { name: 'lunch', base: 'away', label: 'At lunch' },
  { name: 'field_work', base: 'busy', label: 'Field work' },
];

describe('custom statuses', () => {
  it('labels a presence by its custom status, else by its built-in status', () => {
    expect(statusLabel(presence('u2', 3, 'away', { custom: 'lunch' }), statuses as any)).toBe('At lunch');
    expect(statusLabel(presence('u2', 3, 'away', { custom: 'unknown' }), statuses as any)).toBe('Away');
    expect(statusLabel(presence('u2', 3, 'dnd'))).toBe('Do not disturb');
  });

  it('sends a custom status the welcome listed, and labels with the welcome', async () => {
    const h = harness();
    const ws = await h.welcome({ statuses });
    const sent = h.client.status('lunch', 'back at 2');
    expect(ws.last('status')).toMatchObject({ type: 'status', status: 'lunch', note: 'back at 2' });
    ws.receive({ type: 'ok', id: ws.last('status').id, presence: presence('u1', 2, 'away', { custom: 'lunch', manual: true }) });
    await sent;
    expect(h.client.label(presence('u2', 5, 'away', { custom: 'lunch' }))).toBe('At lunch');
    expect(h.client.label(presence('u2', 5, 'busy'))).toBe('Busy');
    const err = await h.client.status('nap').catch((e) => e);
    expect(err).toBeInstanceOf(PgwArgumentError);
    expect(err.message).toMatch(/must be one of online, away, busy, dnd, lunch, field_work \(got "nap"\)/);
    h.client.close();
  });
});
