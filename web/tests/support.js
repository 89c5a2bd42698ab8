// The browser tests' fixture: a real `connector serve` per test (the binary at CONNECTOR_BIN,
// default ../target/debug/connector; nothing is built here) on 127.0.0.1:0 with a temp database,
// `baseURL` pointing at it, an API helper to set data up, axe-core checks, screenshots, and the
// checks that no patient data ends up in browser storage or the server's log.
import { test as base, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, '..');
const repo = resolve(web, '..');

/** The connector binary the tests run. */
export const CONNECTOR_BIN = process.env.CONNECTOR_BIN || resolve(repo, 'target/debug/connector');

/**
 * Starts `connector serve` on a free port with a fresh database in a temp folder; `args` are
 * extra flags (e.g. ['--tokens', file]). Resolves to { url, dir, log(), api(), stop() }.
 */
export async function startServer({ args = [], env = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'connector-web-'));
  const child = spawn(
    CONNECTOR_BIN,
    ['serve', '--listen', '127.0.0.1:0', '--db', join(dir, 'c.db'), '--outbox', join(dir, 'outbox'), '--collect-every', '0', ...args],
    { env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`connector serve did not start:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const found = /connector listening on (http:\/\/\S+)/.exec(output);
      if (found) {
        clearTimeout(timer);
        resolveUrl(found[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`connector serve exited (${code}):\n${output}`));
    });
  });
  child.removeAllListeners('exit');

  /** A JSON request to the API as `user`/`role` (default: a local admin); throws on non-2xx. */
  async function api(method, path, body, { user = 'test-admin', role = 'admin', headers = {} } = {}) {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-connector-user': user, 'x-connector-role': role, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  async function stop() {
    if (child.exitCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }

  return { url, dir, log: () => output, api, stop };
}

/** `test` with a `server` per test (options: `serverArgs`) and `baseURL` set to it. */
export const test = base.extend({
  serverArgs: [[], { option: true }],
  server: async ({ serverArgs }, use) => {
    const server = await startServer({ args: serverArgs });
    await use(server);
    await server.stop();
  },
  baseURL: async ({ server }, use) => {
    await use(server.url);
  },
});

export { expect };

/** Fails on any serious or critical axe-core violation on the page (or under `include`). */
export async function checkA11y(page, { include, exclude } = {}) {
  let builder = new AxeBuilder({ page });
  if (include) builder = builder.include(include);
  if (exclude) builder = builder.exclude(exclude);
  const results = await builder.analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect(bad, 'axe-core serious/critical violations').toEqual([]);
}

/**
 * A screenshot into web/test-results/screenshots/<name>.png (the test artifact). With `docs` (the
 * README's main screens) and `UPDATE_SCREENSHOTS=1` also into docs/screenshots/<name>.png, so an
 * ordinary test run leaves the committed pictures alone.
 */
export async function snap(page, name, { docs = false, fullPage = true } = {}) {
  const file = join(web, 'test-results', 'screenshots', `${name}.png`);
  mkdirSync(dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage, animations: 'disabled' });
  if (docs && process.env.UPDATE_SCREENSHOTS === '1') {
    const target = join(repo, 'docs', 'screenshots', `${name}.png`);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
  }
}

/** Fails if any of `values` (patient data used by the test) is in localStorage or sessionStorage. */
export async function expectNoPatientDataStored(page, values) {
  const stored = await page.evaluate(() => {
    const dump = (storage) => Object.keys(storage).map((k) => `${k}=${storage.getItem(k)}`).join('\n');
    return `${dump(window.localStorage)}\n${dump(window.sessionStorage)}`;
  });
  for (const value of values) {
    expect(stored.toLowerCase(), `browser storage must not hold "${value}"`).not.toContain(String(value).toLowerCase());
  }
}

/** Fails if any of `values` appears in the server's log output. */
export function expectNoPatientDataLogged(server, values) {
  const log = server.log().toLowerCase();
  for (const value of values) {
    expect(log, `the server log must not hold "${value}"`).not.toContain(String(value).toLowerCase());
  }
}

/** Signs the console in as a local user (the loopback picker). */
export async function signInLocal(page, { user, role, path = '/' }) {
  await page.goto(path);
  await page.getByLabel(/^Name/).fill(user);
  await page.getByLabel('Role').selectOption(role);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Fills the console's Register form with `patient` ({ id, mrn, first, last, birth, sex = 'F' }). */
export async function fillPatientForm(page, patient) {
  await page.getByLabel('Patient ID').fill(patient.id);
  await page.getByLabel('MRN').fill(patient.mrn);
  await page.getByLabel('First name').fill(patient.first);
  await page.getByLabel('Last name').fill(patient.last);
  await page.getByLabel('Birth date').fill(patient.birth);
  await page.getByLabel('Sex').selectOption(patient.sex || 'F');
}
