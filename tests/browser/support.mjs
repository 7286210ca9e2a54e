// Shared helpers of the browser tests: valid credit codes, a real qgov server on a
// fresh SQLite database, and a Chromium launched from Debian's package.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const SCREENSHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
const BIN = path.resolve(ROOT, process.env.QGOV_BIN || 'target/debug/qgov');

// GB 32100-2015: the 31 characters of the code in value order, and the weights of
// positions 1..17; GB 11714-1997: weights of the organisation-code body.
const USCC_CHARSET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];

/** A valid unified social credit code from an 8-character prefix and 8-character body. */
export function composeUscc(prefix, body) {
  const orgValue = (c) => (/[0-9]/.test(c) ? Number(c) : c.charCodeAt(0) - 65 + 10);
  const orgSum = [...body].reduce((s, c, i) => s + orgValue(c) * ORG_WEIGHTS[i], 0);
  const orgCheck = { 10: 'X', 11: '0' }[11 - (orgSum % 11)] ?? String(11 - (orgSum % 11));
  const first17 = prefix + body + orgCheck;
  const sum = [...first17].reduce((s, c, i) => s + USCC_CHARSET.indexOf(c) * USCC_WEIGHTS[i], 0);
  return first17 + USCC_CHARSET[(31 - (sum % 31)) % 31];
}

/** The same code with its last (check) character changed: wrong, but well-formed. */
export function breakCheck(code) {
  const last = code[code.length - 1];
  return code.slice(0, -1) + (last === '0' ? '1' : '0');
}

function qgov(args, env, input) {
  const r = spawnSync(BIN, args, { env, input, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`qgov ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/**
 * Start `qgov serve` on a fresh database with an admin account. Returns the base URL,
 * helpers to create accounts and call the API, and `stop()`.
 */
export async function startServer() {
  const dir = mkdtempSync(path.join(tmpdir(), 'qgov-browser-'));
  const env = { ...process.env, QGOV_DATABASE_URL: `sqlite://${dir}/qgov.db`, RUST_LOG: process.env.RUST_LOG || 'warn' };
  const createUser = (username, role, password, extra = []) =>
    qgov(['user', 'create', '--username', username, '--role', role, ...extra, '--password-stdin'], env, `${password}\n`);
  createUser('admin', 'admin', 'admin-password-1234');
  const token = qgov(['token', 'create', '--username', 'admin'], env).trim().split('\n').pop().trim();

  const { base, child } = await serve(env);

  async function api(method, urlPath, body) {
    const res = await fetch(base + urlPath, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${urlPath} → ${res.status}: ${JSON.stringify(json)}`);
    return json;
  }

  return {
    base,
    createUser,
    api,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `qgov serve` on port 0 with `env`; resolves with the base URL and the process once it listens. */
async function serve(env) {
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}${stderr}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}): ${stderr}`)); });
  });
  return { base, child };
}

/**
 * Seed the demo district (`qgov demo --no-serve`: register entities and locations, the
 * 3,000-event traced food chain, the demo accounts) into a fresh database, give the named
 * demo accounts API tokens, and serve it. Returns the base URL, the product lot `qgov demo`
 * offers to trace, `api(method, path, body, username)` answering the raw Response, and `stop()`.
 */
export async function startDemoServer(tokenUsers = ['admin']) {
  const dir = mkdtempSync(path.join(tmpdir(), 'qgov-browser-demo-'));
  const url = `sqlite://${dir}/qgov.db`;
  const env = { ...process.env, QGOV_DATABASE_URL: url, RUST_LOG: process.env.RUST_LOG || 'warn' };
  const seeded = qgov(['demo', '--no-serve', '--database-url', url], env);
  const link = seeded.match(/try a trace \(signed in\): (\S+)/);
  if (!link) throw new Error(`qgov demo printed no trace link: ${seeded}`);
  const traceRoot = new URL(link[1], 'http://demo').searchParams.get('id');
  const tokens = {};
  for (const u of tokenUsers) tokens[u] = qgov(['token', 'create', '--username', u], env).trim().split('\n').pop().trim();
  const { base, child } = await serve(env);
  return {
    base,
    traceRoot,
    api(method, urlPath, body, username = tokenUsers[0]) {
      return fetch(base + urlPath, {
        method,
        headers: { authorization: `Bearer ${tokens[username]}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    },
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

export async function screenshot(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Sign in through the login form and wait for the console. */
export async function login(page, base, username, password) {
  await page.goto(`${base}/console/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/console(\/|$|\?)/), page.click('form.form button[type=submit]')]);
}

/** A page in its own context, with the browser asking for Chinese as a user in Tianjin would. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', ...options });
  return context.newPage();
}
