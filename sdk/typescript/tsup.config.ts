import { defineConfig } from 'tsup';

// One entry, two formats: dist/index.js (ESM, what browsers and bundlers load)
// and dist/index.cjs (CommonJS, for require()), each with its declarations.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2020',
  platform: 'neutral',
  splitting: false,
  treeshake: true,
});
