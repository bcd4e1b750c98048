// test-docs.mjs: the docs a newcomer follows, run as written (scripts/test-docs.sh
// calls it; make test calls that).
//
//   - README.md "Set up": `make run` prints the dev token and the board link shown.
//   - README.md "A 60-second tour": every ```sh block, in order, pasted into one
//     bash; after each, the lines of the ```text block that follows it must appear
//     in the output (a line per expected line, in any order, within a deadline).
//   - sdk/typescript/README.md "Quick start": the ```js block saved as
//     quick-start.mjs in an app that installed the packed SDK as the README says,
//     run against a fresh gateway; its "It prints" lines must appear, and Ctrl-C
//     (SIGINT) must end it.
//
// The commands are never edited. The only thing the test sets is the address:
// PGW_ADDR, which the README's commands honour, is a free port, and the default
// address 127.0.0.1:8080 in the expected output stands for it. In an expected
// line "…" stands for any text; a line without a leading or trailing "…" must
// match from its start or to its end.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_ADDR = '127.0.0.1:8080';
const DEADLINE_MS = Number(process.env.PGW_DOCS_DEADLINE_MS || 120_000); // generous: a loaded machine, first builds

const log = (...a) => console.log('test-docs:', ...a);
function fail(msg) {
  console.error('test-docs: FAIL: ' + msg);
  process.exitCode = 1;
  throw new Error(msg);
}

/** freePort asks the kernel for a free loopback port. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** listening reports whether something accepts connections on addr. */
function listening(addr) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** section returns the text of a markdown section (## title up to the next ##). */
function section(md, title) {
  const start = md.indexOf('\n## ' + title + '\n');
  if (start < 0) fail(`no "## ${title}" section`);
  const end = md.indexOf('\n## ', start + 1);
  return md.slice(start, end < 0 ? md.length : end);
}

/** blocks returns the fenced blocks of markdown text, in order, with their
 *  language and their text with the indentation of the fence removed. */
function blocks(text) {
  const out = [];
  const re = /^([ \t]*)```(\w*)\n([\s\S]*?)^\1```[ \t]*$/gm;
  for (let m; (m = re.exec(text));) {
    const indent = m[1].length;
    const body = m[3].split('\n').map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length))).join('\n');
    out.push({ lang: m[2], text: body });
  }
  return out;
}

/** pairs returns each block of language lang with the expected lines of the
 *  ```text block right after it (none when the next block is not text). */
function pairs(list, lang) {
  const out = [];
  list.forEach((b, i) => {
    if (b.lang !== lang) return;
    const next = list[i + 1];
    const expect = next && next.lang === 'text' ? next.text.split('\n').map((l) => l.trim()).filter(Boolean) : [];
    out.push({ code: b.text, expect });
  });
  return out;
}

/** matcher turns an expected line into a test of an output line. */
function matcher(line, addr) {
  const want = line.split(DEFAULT_ADDR).join(addr);
  const parts = want.split('…');
  return (got) => {
    got = got.trim();
    let at = 0;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === 0) {
        if (!got.startsWith(p)) return false;
        at = p.length;
        continue;
      }
      if (i === parts.length - 1 && p !== '') return got.length - p.length >= at && got.endsWith(p);
      const k = got.indexOf(p, at);
      if (k < 0) return false;
      at = k + p.length;
    }
    return true;
  };
}

/**
 * Proc is a child in its own process group whose stdout and stderr are
 * collected as lines; stop() ends the whole group.
 */
class Proc {
  constructor(cmd, args, opts) {
    this.lines = [];
    this.child = spawn(cmd, args, { ...opts, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    this.exit = null;
    this.exited.then((e) => { this.exit = e; });
    for (const s of [this.child.stdout, this.child.stderr]) {
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (d) => {
        buf += d;
        const parts = buf.split('\n');
        buf = parts.pop();
        for (const l of parts) {
          this.lines.push(l);
          if (process.env.PGW_DOCS_VERBOSE) console.log('  | ' + l);
        }
      });
      s.on('end', () => { if (buf) this.lines.push(buf); });
    }
  }

  /** waitLines waits until each expected line matches a distinct output line
   *  from index from on. */
  async waitLines(expect, from, addr, what) {
    const tests = expect.map((l) => ({ line: l, ok: matcher(l, addr) }));
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const used = new Set();
      const missing = tests.filter((t) => {
        for (let i = from; i < this.lines.length; i++) {
          if (!used.has(i) && t.ok(this.lines[i])) { used.add(i); return false; }
        }
        return true;
      });
      if (missing.length === 0) return;
      if (Date.now() > deadline || (this.exit && Date.now() > deadline - DEADLINE_MS + 2000)) {
        fail(`${what}: never printed\n    ${missing.map((t) => t.line).join('\n    ')}\n  output since it started:\n    ${this.lines.slice(from).join('\n    ')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(signal = 'SIGTERM') {
    if (!this.exit) {
      try { process.kill(-this.child.pid, signal); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-this.child.pid, 'SIGKILL'); } catch { /* gone */ } }, 20_000);
      await this.exited;
      clearTimeout(t);
    }
    // Whatever the group started that outlived its leader.
    try { process.kill(-this.child.pid, 'SIGKILL'); } catch { /* none left */ }
  }
}

/** env is this process's environment without PGW_ settings, plus extra. */
function env(extra) {
  const e = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PGW_')));
  return { ...e, ...extra };
}

async function checkMakeRun(readme) {
  const setup = pairs(blocks(section(readme, 'Set up')), 'sh');
  const run = setup.find((b) => b.code.trim().startsWith('make run'));
  if (!run || run.expect.length === 0) fail('README "Set up" has no `make run` block followed by its output');
  const addr = `127.0.0.1:${await freePort()}`;
  log(`README "Set up": ${run.code.trim().split('\n')[0]} (PGW_ADDR=${addr})`);
  const p = new Proc('bash', ['--noprofile', '--norc', '-c', run.code], { cwd: repo, env: env({ PGW_ADDR: addr }) });
  try {
    await p.waitLines(run.expect, 0, addr, '`make run`');
  } finally {
    await p.stop('SIGINT');
  }
  if (await listening(addr)) fail('`make run` left a gateway listening on ' + addr);
}

async function checkTour(readme) {
  const steps = pairs(blocks(section(readme, 'A 60-second tour')), 'sh');
  if (steps.length < 5) fail(`README tour: only ${steps.length} sh blocks found`);
  const addr = `127.0.0.1:${await freePort()}`;
  log(`README tour: ${steps.length} blocks, PGW_ADDR=${addr}`);
  const sh = new Proc('bash', ['--noprofile', '--norc', '-e'], { cwd: repo, env: env({ PGW_ADDR: addr }) });
  try {
    for (const [k, step] of steps.entries()) {
      const first = step.code.trim().split('\n')[0];
      log(`  block ${k + 1}: ${first}${step.code.trim().includes('\n') ? ' …' : ''}`);
      const from = sh.lines.length;
      const marker = `@@test-docs block ${k + 1} done@@`;
      sh.child.stdin.write(step.code + `\necho '${marker}'\n`);
      await sh.waitLines([marker], from, addr, `block ${k + 1} (${first}) did not finish`);
      if (sh.exit) fail(`bash exited during block ${k + 1}: ${JSON.stringify(sh.exit)}`);
      await sh.waitLines(step.expect, from, addr, `block ${k + 1} (${first})`);
    }
    sh.child.stdin.end();
    await Promise.race([sh.exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (!sh.exit) fail('bash did not end after the tour');
    if (sh.exit.code !== 0) fail(`the tour's shell ended with ${JSON.stringify(sh.exit)}:\n    ${sh.lines.slice(-20).join('\n    ')}`);
    // The last block stops what the tour started: the node drains and goes.
    const until = Date.now() + DEADLINE_MS;
    while (await listening(addr)) {
      if (Date.now() > until) fail(`the tour's node still listens on ${addr} after its last block`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await sh.stop();
  }
}

async function checkSDKQuickStart() {
  const sdk = path.join(repo, 'sdk', 'typescript');
  const readme = fs.readFileSync(path.join(sdk, 'README.md'), 'utf8');
  const list = blocks(section(readme, 'Quick start'));
  const js = list.find((b) => b.lang === 'js');
  const printed = list.find((b) => b.lang === 'text');
  if (!js || !printed) fail('sdk/typescript/README.md "Quick start" has no js block and no text block of what it prints');
  const install = pairs(blocks(section(readme, 'Install')), 'sh');
  if (install.length < 2) fail('sdk/typescript/README.md "Install": want the build block and the app block');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgw-docs-sdk-'));
  try {
    log('SDK README "Install": build and pack as written');
    const sh = (code, cwd) => execFileSync('bash', ['--noprofile', '--norc', '-e', '-c', code], { cwd, env: env({}), stdio: ['ignore', 'pipe', 'inherit'] }).toString();
    // The first block runs at the top of the repository ("in your clone").
    sh(install[0].code, repo);
    const tgz = fs.readdirSync(sdk).find((f) => /^pgw-client-.*\.tgz$/.test(f));
    if (!tgz) fail('npm pack left no pgw-client-*.tgz in sdk/typescript');
    // The second block in the app, with the README's placeholder paths
    // pointing at this repository and the app (npm takes ws from its cache
    // when it can: the SDK's own dev dependencies put it there).
    const app = path.join(tmp, 'your-app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "your-app", "private": true }\n');
    const code = install[1].code.split('/path/to/your-app').join(app).split('/path/to/pgw').join(repo);
    sh(code.replace(/^npm install ws\b/m, 'npm install --prefer-offline ws'), app);
    fs.rmSync(path.join(sdk, tgz));
    fs.writeFileSync(path.join(app, 'quick-start.mjs'), js.text);

    log('SDK README "Quick start": type-check (tsc, checkJs) and run against a fresh gateway');
    execFileSync(path.join(sdk, 'node_modules', '.bin', 'tsc'), ['-p', path.join(sdk, 'tsconfig.examples.json')], { stdio: 'inherit' });
    const secret = 'docs-test-' + Math.random().toString(36).slice(2) + '-0123456789abcdef0123456789';
    const addr = `127.0.0.1:${await freePort()}`;
    const gw = new Proc(path.join(repo, 'bin', 'gateway'), ['--addr', addr, '--jwt-secret', secret], { cwd: repo, env: env({}) });
    try {
      await gw.waitLines(['time=… msg=serving …'], 0, addr, 'the gateway for the quick start');
      const token = execFileSync(path.join(repo, 'bin', 'gateway'), ['token', '--sub', 'carol', '--tenant', 'acme', '--jwt-secret', secret]).toString().trim();
      const qs = new Proc('node', ['quick-start.mjs'], { cwd: app, env: env({ PGW_TOKEN: token, PGW_URL: `ws://${addr}/v1/ws` }) });
      try {
        await qs.waitLines(printed.text.split('\n').map((l) => l.trim()).filter(Boolean), 0, addr, 'quick-start.mjs');
        process.kill(qs.child.pid, 'SIGINT'); // Ctrl-C: the script closes the client
        await Promise.race([qs.exited, new Promise((r) => setTimeout(r, 30_000))]);
        if (!qs.exit || qs.exit.code !== 0) fail(`quick-start.mjs did not end cleanly on Ctrl-C: ${JSON.stringify(qs.exit)}\n    ${qs.lines.join('\n    ')}`);
      } finally {
        await qs.stop();
      }
    } finally {
      await gw.stop();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
const only = process.argv[2];
try {
  if (!only || only === 'run') await checkMakeRun(readme);
  if (!only || only === 'tour') await checkTour(readme);
  if (!only || only === 'sdk') await checkSDKQuickStart();
  log('passed');
} catch (err) {
  if (!process.exitCode) {
    console.error(err);
    process.exitCode = 1;
  }
}
