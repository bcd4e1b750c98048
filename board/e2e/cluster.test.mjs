// The board behind `make cluster` (scripts/cluster.sh as shipped: three
// nodes behind deploy/nginx.conf on a non-default port, a private Redis and
// NATS): the page loaded through nginx connects (its origin is the nodes'
// public URL), shows users connected through nginx to any node, and the
// script stops everything it started when told to.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, freePort, gatewayBinary, launchBrowser, observe, outDir, repoRoot, sameOrigin, waitFor } from './lib.mjs';

const listening = (port) => new Promise((resolve) => {
  const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

describe('board behind make cluster (scripts/cluster.sh, deploy/nginx.conf)', () => {
  let proc, exited, out = '', port, board, secret, browser, bin;
  const clients = [];

  before(async () => {
    bin = gatewayBinary();
    port = await freePort();
    proc = spawn(path.join(repoRoot, 'scripts', 'cluster.sh'), [], {
      cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PGW_'))),
        CLUSTER_ADDR: `127.0.0.1:${port}`, GATEWAY: bin, CLUSTER_LOGS: path.join(outDir, 'cluster') },
    });
    exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    let dead = null;
    exited.then((e) => { dead = e; });
    // The first run builds nats-server from the module cache: a generous deadline.
    await waitFor('make cluster to print the board URL', 180_000, () => {
      if (dead) throw Object.assign(new Error(`cluster.sh exited ${JSON.stringify(dead)}:\n${out}`), { fatal: true });
      board = /board: +(http:\/\/\S+)/.exec(out)?.[1];
      secret = /PGW_JWT_SECRET=(\S+)/.exec(out)?.[1];
      return board && secret;
    }, 200);
    browser = await launchBrowser();
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    await browser?.close();
    if (proc && proc.exitCode === null) {
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });

  test('the board through nginx shows users connected through nginx', async () => {
    assert.ok(board.startsWith(`http://127.0.0.1:${port}/board/#token=`), board);
    const token = (sub) => execFileSync(bin, ['token', '--sub', sub, '--tenant', 'dev', '--jwt-secret', secret], { encoding: 'utf8' }).trim();
    for (const sub of ['alice', 'bob', 'carol']) {
      const c = await Client.open(`ws://127.0.0.1:${port}/v1/ws`, { token: token(sub), device: 'desktop' });
      clients.push(c);
    }
    await clients[0].ok({ type: 'status', status: 'busy', note: 'in a meeting' });
    const nodes = new Set(clients.map((c) => c.welcome.node));
    assert.ok(nodes.size >= 2, `round robin put every connection on ${[...nodes]}`);

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const seen = observe(page);
    await page.goto(board);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 20_000 });
    for (const user of ['alice', 'bob', 'carol']) await page.locator(`li.tile[data-user="${user}"]`).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('li.tile[data-user="alice"]').getAttribute('data-status'), 'busy');
    // A change made through another node reaches the page.
    await clients[1].ok({ type: 'status', status: 'dnd', note: 'focus' });
    await page.locator('li.tile[data-user="bob"][data-status="dnd"]').waitFor({ timeout: 10_000 });
    const origin = `http://127.0.0.1:${port}`;
    assert.deepEqual([...seen.requests, ...seen.sockets].filter((u) => !sameOrigin(u, origin)), []);
    assert.deepEqual([...seen.consoleErrors, ...seen.pageErrors], []);
    await page.close();
  });

  test('stops everything it started on SIGTERM (Ctrl-C), by PID', async () => {
    for (const c of clients.splice(0)) await c.close();
    const pids = execFileSync('bash', ['-c', `pgrep -g ${proc.pid} || true`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    assert.ok(pids.length >= 6, `processes of the cluster: ${pids}`); // script, redis, nats, 3 nodes, nginx (+ workers)
    process.kill(proc.pid, 'SIGTERM');
    const e = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 60_000))]);
    assert.ok(e, 'cluster.sh did not stop within 60 s');
    assert.match(out, /cluster: stopped; logs in /);
    await waitFor('nginx to stop listening', 10_000, async () => !(await listening(port)));
    const left = pids.filter((p) => { try { process.kill(Number(p), 0); return true; } catch { return false; } });
    assert.deepEqual(left, [], 'processes left running');
  });
});
