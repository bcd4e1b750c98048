#!/usr/bin/env bash
# pack-test.sh: `npm pack` the built package, install the tarball into a clean
# temp project (no registry needed: the package has no runtime dependencies),
# and check that it loads with both import and require, and that its types
# resolve for both under TypeScript's node16 resolution.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg_dir=$(pwd)
tmp=$(mktemp -d -t pgw-sdk-pack-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

[ -f dist/index.js ] && [ -f dist/index.cjs ] || { echo "pack-test: dist/ missing, run npm run build" >&2; exit 1; }
tarball=$(npm pack --silent --pack-destination "$tmp" | tail -n1)
echo "pack-test: packed $tarball ($(du -k "$tmp/$tarball" | cut -f1) KiB)"
tar -tzf "$tmp/$tarball" | sort > "$tmp/files.txt"
for f in package/package.json package/README.md package/dist/index.js package/dist/index.cjs package/dist/index.d.ts package/dist/index.d.cts; do
  grep -qx "$f" "$tmp/files.txt" || { echo "pack-test: $f missing from the tarball" >&2; cat "$tmp/files.txt" >&2; exit 1; }
done
if grep -qE '^package/(src|test|node_modules)/' "$tmp/files.txt"; then
  echo "pack-test: the tarball carries sources, tests or node_modules" >&2; exit 1
fi

app="$tmp/app"
mkdir -p "$app"
cd "$app"
printf '{ "name": "pack-test-app", "version": "1.0.0", "private": true }\n' > package.json
npm install --silent --no-audit --no-fund --offline "$tmp/$tarball"

node --input-type=module -e '
import * as m from "@pgw/client";
const want = ["createApi", "PgwApiError", "connect", "PgwClient", "PgwError", "PgwArgumentError", "PgwConnectionError", "PresenceView", "sharedSession", "createSessionId", "reconnectRule"];
for (const k of want) if (!(k in m)) throw new Error("import: missing export " + k);
if (m.reconnectRule(1001) !== "at_once") throw new Error("import: reconnectRule broken");
try { m.connect({}); throw new Error("no throw"); } catch (e) { if (!(e instanceof m.PgwArgumentError) || !/"url"/.test(e.message)) throw e; }
console.log("pack-test: import ok (" + Object.keys(m).length + " exports)");
'
node -e '
const m = require("@pgw/client");
for (const k of ["connect", "createApi", "PgwApiError", "PgwError", "PresenceView", "sharedSession"]) if (typeof m[k] !== "function") throw new Error("require: missing export " + k);
if (m.reconnectRule(4403) !== "no") throw new Error("require: reconnectRule broken");
if (!m.createSessionId().match(m.ID_PATTERN)) throw new Error("require: createSessionId broken");
console.log("pack-test: require ok");
'

# Types under node16 resolution, from an ES module and from a CommonJS one.
cat > esm.mts <<'TS'
import { connect, createApi, type Presence, type PgwApi, PgwError } from '@pgw/client';
const p: Presence | undefined = undefined;
export const api: PgwApi = createApi({ baseUrl: 'http://127.0.0.1:8080', token: 't' });
export const f = (): typeof connect => connect;
export const e: typeof PgwError = PgwError;
void p;
TS
cat > cjs.cts <<'TS'
import pgw = require('@pgw/client');
export const c: typeof pgw.connect = pgw.connect;
export const s: string = pgw.createSessionId();
TS
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "node16", "moduleResolution": "node16", "target": "es2020", "lib": ["es2022"],
  "strict": true, "noEmit": true, "skipLibCheck": false, "types": [] }, "files": ["esm.mts", "cjs.cts"] }
JSON
"$pkg_dir/node_modules/.bin/tsc" -p tsconfig.json
echo "pack-test: types ok for import and require (node16)"
