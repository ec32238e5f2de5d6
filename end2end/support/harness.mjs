// Starts what a browser test needs: its own redis-server and a `hoist serve` on free
// ports with a fresh SQLite database, and a headless Chromium. Everything is torn down
// by `stop()`.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "..", "..");
export const artifactsDir = join(repoRoot, "end2end", "artifacts");
export const ADMIN_PASSWORD = "e2e-admin-password";

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitFor(check, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError}` : ""}`);
}

function collect(child, name) {
  const lines = [];
  const push = (d) => {
    for (const l of d.toString().split("\n")) if (l) lines.push(`[${name}] ${l}`);
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  child.stdout?.on("data", push);
  child.stderr?.on("data", push);
  return lines;
}

// `options.args` are extra `hoist serve` arguments, `options.env` extra variables.
// `options.bin` runs another program in its place (an application embedding Hoist),
// listening where `options.addrVariable` says and with Hoist mounted at `options.mount`.
export async function startStack(options = {}) {
  const dir = mkdtempSync(join(tmpdir(), "hoist-e2e-"));
  const redisPort = await freePort();
  const redis = spawn(
    "redis-server",
    ["--port", String(redisPort), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  collect(redis, "redis");

  const httpPort = await freePort();
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const bin = options.bin ?? process.env.HOIST_BIN ?? join(repoRoot, "target", "debug", "hoist");
  const args = options.bin ? (options.args ?? []) : ["serve", ...(options.args ?? [])];
  const mount = options.mount ?? "";
  const server = spawn(bin, args, {
    // Not the repository: nothing may depend on being started next to target/.
    cwd: dir,
    env: {
      ...process.env,
      [options.addrVariable ?? "HOIST_ADDR"]: `127.0.0.1:${httpPort}`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      DATABASE_URL: "",
      HOIST_DATA_DIR: join(dir, "data"),
      HOIST_ADMIN_PASSWORD: ADMIN_PASSWORD,
      // The pages under test show the built-in processors' queues at work.
      HOIST_PROCESSORS: "all",
      // Unset: hoist serves the dashboard files its build embedded (the plain `cargo
      // build` binary is what these tests check); set, a site folder is used instead.
      RUST_LOG: process.env.RUST_LOG ?? "warn",
      ...(options.env ?? {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const serverLog = collect(server, "hoist");
  let exited = null;
  server.on("exit", (code) => (exited = code));

  await waitFor(async () => {
    if (exited !== null) throw new Error(`hoist exited with ${exited}:\n${serverLog.join("\n")}`);
    const res = await fetch(`${baseUrl}${mount}/healthz`);
    return res.ok;
  }, "hoist /healthz");

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  mkdirSync(artifactsDir, { recursive: true });

  return {
    baseUrl,
    browser,
    serverLog,
    // What `hoist` commands need to reach this server's Redis and database (`hoist token`).
    serverEnv: { REDIS_URL: `redis://127.0.0.1:${redisPort}`, DATABASE_URL: "", HOIST_DATA_DIR: join(dir, "data") },
    bin,
    async newPage(contextOptions = {}) {
      const context = await browser.newContext(contextOptions);
      const page = await context.newPage();
      const consoleErrors = [];
      page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
      page.on("pageerror", (e) => consoleErrors.push(String(e)));
      page.consoleErrors = consoleErrors;
      // Requests answered 4xx/5xx or not at all (a refused WebSocket shows as a console error).
      const failedRequests = [];
      page.on("response", (r) => r.status() >= 400 && failedRequests.push(`${r.status()} ${r.request().method()} ${r.url()}`));
      page.on("requestfailed", (r) => {
        // A navigation away cancels what the page still had in flight: not a failure.
        if (!/ERR_ABORTED/.test(r.failure()?.errorText ?? "")) failedRequests.push(`${r.failure()?.errorText} ${r.url()}`);
      });
      page.failedRequests = failedRequests;
      return page;
    },
    async screenshot(page, name) {
      await page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage: true });
    },
    async stop() {
      await browser.close().catch(() => {});
      // A graceful stop first (workers hand back their jobs), then Redis goes.
      server.kill("SIGTERM");
      await new Promise((r) => (exited !== null ? r() : server.once("exit", r)));
      redis.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Resolves once the page has hydrated (the layout marks itself from a client effect).
export async function waitForHydration(page) {
  await page.waitForSelector('.layout[data-hydrated="true"]', { timeout: 30000 });
}

// A REST client signed in as `username`: keeps the session cookie and sends the CSRF token.
export async function apiSession(baseUrl, username, password) {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get("set-cookie").split(";")[0];
  const { csrf_token: csrf } = await res.json();
  return async (method, path, body) => {
    const reply = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { cookie, "x-csrf-token": csrf, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await reply.text();
    return { status: reply.status, body: text ? JSON.parse(text) : null };
  };
}

// Signs in through the dashboard's form and waits for the page the role starts on: the
// overview for staff, My jobs for end users.
export async function signIn(stack, page, username, password) {
  await page.goto(`${stack.baseUrl}/login`);
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.endsWith("/login"));
  await waitForHydration(page);
  return new URL(page.url()).pathname;
}

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// Polls `check` until it returns something truthy (that value), or fails naming `what`.
export async function eventually(check, what, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
