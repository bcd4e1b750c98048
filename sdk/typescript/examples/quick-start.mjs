// quick-start.mjs: run it with a user token of your gateway, e.g.
//   PGW_TOKEN=$(bin/gateway token --sub carol --tenant acme) node quick-start.mjs
// PGW_URL defaults to ws://127.0.0.1:8080/v1/ws. Ctrl-C closes.
import WebSocket from 'ws'; // Node 20 and older only: Node 22+, browsers and Electron have WebSocket
import { connect, createSessionId, PgwError } from '@pgw/client';

const client = connect({
  url: process.env.PGW_URL ?? 'ws://127.0.0.1:8080/v1/ws',
  token: process.env.PGW_TOKEN ?? '', // or getToken: () => fetch('/api/pgw-token').then((r) => r.text())
  session: createSessionId(), // one id per app instance, shared by its windows (Electron: below)
  window: 'main', // 'main' | 'child'
  device: 'desktop', // 'desktop' | 'web' | 'mobile' | 'bridge'
  WebSocket, // leave out where WebSocket is global
});

client.on('state', (s) => console.log('state:', s.previous, '→', s.state, s.code ?? '', s.reason ?? ''));
const welcome = await client.ready();
console.log('welcome:', welcome.user, 'of', welcome.tenant);

await client.status('busy', 'in a meeting');

const team = await client.subscribe(['alice', 'bob', welcome.user]);
for (const [user, p] of team) console.log('presence:', user, p.status, p.note ?? '');
team.on('change', ({ user, presence }) => console.log('change:', user, presence.status, presence.note ?? ''));

try {
  await client.request({ type: 'status', status: 'bogus' });
} catch (err) {
  if (err instanceof PgwError) console.log('refused:', err.status, err.code, err.detail);
}

process.on('SIGINT', () => client.close());
