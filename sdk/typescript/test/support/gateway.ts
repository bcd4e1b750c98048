import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 20 ms until it returns a truthy value; fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** Claims of a test token; `ttl` (seconds, default 3600) sets exp unless exp is given. */
export interface TestClaims {
  sub: string;
  tenant: string;
  exp?: number;
  ttl?: number;
  roles?: string[];
  sid?: string;
  [claim: string]: unknown;
}

/** Signs an HS256 JWT with node:crypto (no JWT library). */
export function signToken(secret: string, claims: TestClaims): string {
  const now = Math.floor(Date.now() / 1000);
  const { ttl, ...rest } = claims;
  const payload = { iat: now, exp: now + (ttl ?? 3600), ...rest };
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(payload));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** A unique id for a test's tenant or users, so tests never see each other. */
export function uid(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** Options of {@link startGateway}: extra settings as flags (name without --). */
export interface GatewayOptions {
  bin: string;
  secret?: string;
  grace?: string;
  allowedOrigins?: string;
  /** More flags, e.g. { 'max-conns-per-user': '2' }. */
  flags?: Record<string, string>;
  /** Reuse this port (a restart of the "same" node address). */
  port?: number;
}

/** A running gateway process. */
export interface Gateway {
  port: number;
  secret: string;
  /** ws://127.0.0.1:port/v1/ws */
  wsURL: string;
  /** http://127.0.0.1:port */
  httpURL: string;
  /** A token of this gateway's secret. */
  token(claims: TestClaims): string;
  /** Everything the process printed so far (for failure messages). */
  logs(): string;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 15 s). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `gateway` on a free port (in-process store, embedded NATS) and waits
 * for GET /readyz to answer 200.
 */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const secret = opts.secret ?? randomBytes(16).toString('hex');
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await launch(opts, secret, port);
    } catch (err) {
      lastErr = err;
      if (opts.port !== undefined) break;
    }
  }
  throw lastErr;
}

async function launch(opts: GatewayOptions, secret: string, port: number): Promise<Gateway> {
  const args = ['--addr', `127.0.0.1:${port}`, '--jwt-secret', secret, '--grace', opts.grace ?? '1s'];
  if (opts.allowedOrigins) args.push('--allowed-origins', opts.allowedOrigins);
  // A short drain so that shutdown tests do not wait 10 s.
  for (const [k, v] of Object.entries({ drain: '500ms', ...opts.flags })) args.push(`--${k}`, v);
  // In-process store and embedded NATS: never the machine's Redis/NATS.
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('PGW_')) delete env[k];
  const child: ChildProcess = spawn(opts.bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => { exited = code; resolve(code); }));
  const httpURL = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      `gateway ${httpURL}/readyz to answer 200`,
      async () => {
        if (exited !== undefined) throw new Error(`gateway exited with ${exited}:\n${out}`);
        const res = await fetch(`${httpURL}/readyz`).catch(() => undefined);
        return res?.status === 200;
      },
      30_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- gateway output ---\n${out}`);
  }
  return {
    port,
    secret,
    wsURL: `ws://127.0.0.1:${port}/v1/ws`,
    httpURL,
    token: (claims) => signToken(secret, claims),
    logs: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited !== undefined) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}
