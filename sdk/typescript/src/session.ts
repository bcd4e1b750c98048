/**
 * One session per app instance (contract §3.1, §4): every window of an
 * Electron app (main and children) says the same session id in its hello, so
 * closing a child window, or reloading one, never makes the user flap offline.
 *
 * - Electron main process: `const id = createSessionId()` once, then hand it
 *   to each window: `sessionArgument(id)` in `webPreferences.additionalArguments`
 *   (read in the preload with `sessionFromArgv(process.argv)`), or answer
 *   `SESSION_IPC_CHANNEL` with `ipcMain.handle`.
 * - Renderer / browser windows: `sharedSession()` takes the opener's id in a
 *   child opened with `window.open`, keeps it across reloads (sessionStorage),
 *   and makes one otherwise.
 */
import { checkId } from './validate.js';

/** Name of the IPC channel / global under which the session id is shared. */
export const SESSION_IPC_CHANNEL = 'pgw:session';

/** The property of `window` (and key of sessionStorage) that holds the id. */
export const SESSION_GLOBAL = '__pgwSession';

const ARG_PREFIX = '--pgw-session=';

/** A new random session id (a UUID, which satisfies the contract's id rule). */
export function createSessionId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  if (c && typeof c.getRandomValues === 'function') {
    const b = c.getRandomValues(new Uint8Array(16));
    b[6] = ((b[6] as number) & 0x0f) | 0x40;
    b[8] = ((b[8] as number) & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  throw new Error('createSessionId: no crypto.randomUUID or crypto.getRandomValues in this runtime');
}

/** The command-line argument that carries `id` to a window (webPreferences.additionalArguments). */
export function sessionArgument(id: string): string {
  checkId('sessionArgument', 'id', id);
  return ARG_PREFIX + id;
}

/** The session id passed with {@link sessionArgument}, read in a preload from `process.argv`. */
export function sessionFromArgv(argv: readonly string[]): string | undefined {
  for (const a of argv) {
    if (a.startsWith(ARG_PREFIX)) {
      const id = a.slice(ARG_PREFIX.length);
      checkId('sessionFromArgv', 'argv', id);
      return id;
    }
  }
  return undefined;
}

/** The parts of a browser window {@link sharedSession} looks at. */
export interface SessionWindow {
  opener?: unknown;
  sessionStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void };
  [SESSION_GLOBAL]?: string;
}

/**
 * The session id of this window's app instance: the opener's (a child made
 * with window.open from the same origin), else the one this window already
 * has (also across reloads, via sessionStorage), else a new one. It is
 * stored on the window so that children it opens find it.
 */
export function sharedSession(win?: SessionWindow): string {
  const w = win ?? (globalThis as unknown as SessionWindow);
  let id: string | undefined;
  try {
    const opener = w.opener as SessionWindow | null | undefined;
    const o = opener?.[SESSION_GLOBAL];
    if (typeof o === 'string' && o) id = o;
  } catch {
    // A cross-origin opener throws on access: it is not our app.
  }
  if (!id && typeof w[SESSION_GLOBAL] === 'string') id = w[SESSION_GLOBAL];
  if (!id) {
    try {
      id = w.sessionStorage?.getItem(SESSION_GLOBAL) ?? undefined;
    } catch {
      // Storage may be disabled.
    }
  }
  if (!id) id = createSessionId();
  checkId('sharedSession', 'session', id);
  w[SESSION_GLOBAL] = id;
  try {
    w.sessionStorage?.setItem(SESSION_GLOBAL, id);
  } catch {
    // Storage may be disabled; the window property still serves children.
  }
  return id;
}
