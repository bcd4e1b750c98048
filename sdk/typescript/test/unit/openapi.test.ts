// The API types are generated from docs/openapi.yaml (openapi-typescript,
// pinned in package.json); this fails when the checked-in file drifts from
// the spec. Fix: npm run gen:openapi.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '../..');

it('src/generated/openapi.ts is what openapi-typescript makes of docs/openapi.yaml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-openapi-'));
  try {
    const out = join(dir, 'openapi.ts');
    execFileSync(join(pkg, 'node_modules/.bin/openapi-typescript'), [join(pkg, '../../docs/openapi.yaml'), '-o', out], {
      stdio: 'pipe',
    });
    const want = readFileSync(out, 'utf8');
    const got = readFileSync(join(pkg, 'src/generated/openapi.ts'), 'utf8');
    expect(got === want, 'src/generated/openapi.ts is out of date with docs/openapi.yaml: run `npm run gen:openapi`').toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
