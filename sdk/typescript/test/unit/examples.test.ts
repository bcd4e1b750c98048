// The README's quick start (examples/quick-start.mjs, JavaScript checked with
// checkJs) and HTTP API examples (Node, a Next.js route handler, a NestJS
// service) are the files of examples/, quoted verbatim, and type-check
// against the SDK's sources (NestJS through a type-only stub: test/stubs).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '../..');
const examples = ['api-node.ts', 'api-next-route.ts', 'api-nest.service.ts', 'quick-start.mjs'];

it.each(examples)('README quotes examples/%s verbatim', (file) => {
  const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
  const code = readFileSync(join(pkg, 'examples', file), 'utf8');
  const lang = file.endsWith('.mjs') ? 'js' : 'ts';
  expect(readme.includes('```' + lang + '\n' + code + '```'), `README.md must quote examples/${file} in a ${lang} block`).toBe(true);
});

it('the examples type-check (tsc -p tsconfig.examples.json)', () => {
  execFileSync(join(pkg, 'node_modules/.bin/tsc'), ['-p', join(pkg, 'tsconfig.examples.json')], { stdio: 'pipe' });
}, 120_000);
