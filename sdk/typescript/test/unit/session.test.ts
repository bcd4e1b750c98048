import { describe, expect, it } from 'vitest';
import { createSessionId, ID_PATTERN, PgwArgumentError, sessionArgument, sessionFromArgv, sharedSession, SESSION_GLOBAL } from '../../src/index.js';

function fakeWindow(opener?: unknown) {
  const store = new Map<string, string>();
  return {
    opener,
    sessionStorage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) },
  } as any;
}

describe('session helpers', () => {
  it('createSessionId makes distinct ids that satisfy the contract id rule', () => {
    const ids = new Set(Array.from({ length: 100 }, createSessionId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(ID_PATTERN);
  });

  it('a child window opened by the main window shares its session', () => {
    const main = fakeWindow(null);
    const id = sharedSession(main);
    expect(main[SESSION_GLOBAL]).toBe(id);
    const child = fakeWindow(main);
    expect(sharedSession(child)).toBe(id);
    const grandchild = fakeWindow(child);
    expect(sharedSession(grandchild)).toBe(id);
  });

  it('a reload keeps the session (sessionStorage); another app instance gets a new one', () => {
    const w = fakeWindow(null);
    const id = sharedSession(w);
    delete w[SESSION_GLOBAL]; // a reload loses globals, not sessionStorage
    expect(sharedSession(w)).toBe(id);
    expect(sharedSession(fakeWindow(null))).not.toBe(id);
  });

  it('a cross-origin opener (throws on access) is ignored', () => {
    const opener = new Proxy({}, { get() { throw new Error('SecurityError'); } });
    expect(sharedSession(fakeWindow(opener))).toMatch(ID_PATTERN);
  });

  it('passes the id to Electron windows through argv', () => {
    const id = createSessionId();
    expect(sessionFromArgv(['electron', '--foo', sessionArgument(id)])).toBe(id);
    expect(sessionFromArgv(['electron'])).toBeUndefined();
    expect(() => sessionFromArgv(['--pgw-session=a.b'])).toThrow(PgwArgumentError);
    expect(() => sessionArgument('bad id')).toThrow(/sessionArgument: "id" must be/);
  });
});
