import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the gateway binary built for this run. */
    gatewayBin: string;
  }
}

/** The repository root (sdk/typescript/test/support → ../../../..). */
export const repoRoot = resolve(__dirname, '../../../..');

/**
 * Builds the real gateway once for every integration and browser test file
 * (`go build ./cmd/gateway`), or uses PGW_GATEWAY_BIN when the caller built it.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const given = process.env.PGW_GATEWAY_BIN;
  if (given) {
    if (!existsSync(given)) throw new Error(`PGW_GATEWAY_BIN=${given} does not exist`);
    project.provide('gatewayBin', given);
    return () => undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'pgw-sdk-gateway-'));
  const bin = join(dir, 'gateway');
  try {
    await promisify(execFile)('go', ['build', '-o', bin, './cmd/gateway'], {
      cwd: repoRoot,
      timeout: 600_000,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`go build ./cmd/gateway failed in ${repoRoot}:\n${e.stderr ?? e.message}`);
  }
  project.provide('gatewayBin', bin);
  return () => rmSync(dir, { recursive: true, force: true });
}
