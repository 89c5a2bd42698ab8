// Copies the browser libraries the app uses from node_modules into public/vendor/ (committed, so
// `connector serve` on a fresh clone needs no npm). `--check` fails when the committed copy differs
// from the installed version (CI runs it after `npm ci`).
import { copyFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');

/** [from node_modules, to public/vendor]. */
const FILES = [
  ['chart.js/dist/chart.umd.min.js', 'chart.js/chart.umd.min.js'],
  ['chart.js/LICENSE.md', 'chart.js/LICENSE.md'],
  ['papaparse/papaparse.min.js', 'papaparse/papaparse.min.js'],
  ['papaparse/LICENSE', 'papaparse/LICENSE'],
  // The self-contained browser build (jwt-decode bundled in; the ESM build imports it by a bare
  // specifier, which a browser cannot resolve without an import map).
  ['oidc-client-ts/dist/browser/oidc-client-ts.min.js', 'oidc-client-ts/oidc-client-ts.min.js'],
  ['oidc-client-ts/LICENSE', 'oidc-client-ts/LICENSE'],
];

const check = process.argv.includes('--check');
let stale = 0;
for (const [from, to] of FILES) {
  const source = join(web, 'node_modules', from);
  const target = join(web, 'public', 'vendor', to);
  if (check) {
    if (!existsSync(target) || !readFileSync(source).equals(readFileSync(target))) {
      console.error(`public/vendor/${to} differs from node_modules/${from}: run npm run vendor`);
      stale += 1;
    }
  } else {
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    console.log(`public/vendor/${to} <- node_modules/${from}`);
  }
}
process.exit(stale ? 1 : 0);
