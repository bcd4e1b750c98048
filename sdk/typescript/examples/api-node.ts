// Node 18+ (global fetch): a script or service asking the gateway over HTTP.
import { createApi, PgwApiError } from '@pgw/client';

const api = createApi({
  baseUrl: process.env.PGW_URL ?? 'http://127.0.0.1:8080',
  token: process.env.PGW_TOKEN ?? '', // a JWT of your tenant (gateway token --sub svc --tenant acme --roles admin)
});

const alice = await api.getPresence('alice');
console.log(alice.status, alice.phone?.state, alice.version);

// At most 1000 users a call; each call can be given its own AbortSignal.
const team = await api.queryPresence(['alice', 'bob'], { signal: AbortSignal.timeout(5_000) });
for (const p of team) console.log(p.user, p.status);

try {
  await api.setStatus('alice', { status: 'dnd', note: 'focus time' });
} catch (err) {
  // 429 and 503 with Retry-After were already retried; this is final.
  if (err instanceof PgwApiError && err.code === 'user_offline') console.log('alice is not connected');
  else throw err;
}
