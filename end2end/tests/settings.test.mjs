// A queue's settings on its page, against a real `hoist serve` started with a hoist.toml
// and an environment variable over it: each setting shows its value and where it came
// from (the file and its line, the variable, or the default), as the browser renders
// it after hydration.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_PASSWORD, apiSession, signIn, startStack, waitForHydration } from "../support/harness.mjs";

const dir = mkdtempSync(join(tmpdir(), "hoist-e2e-config-"));
const file = join(dir, "hoist.toml");
writeFileSync(file, `[queues.invoices]\nattempts = 6\nkeep_completed = 20\n\n[env.production.queues.invoices]\nmax_waiting = 900\n`);

let stack;
let api;
before(async () => {
  stack = await startStack({
    env: { HOIST_CONFIG: file, HOIST_ENV: "production", HOIST_QUEUE_INVOICES_CONCURRENCY: "4" },
  });
  api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
});
after(async () => {
  await stack?.stop();
});

test("the queue page shows each setting and where it came from", async () => {
  assert.equal((await api("POST", "/api/v1/queues/invoices/jobs", { name: "bill", payload: {} })).status, 202);
  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.goto(`${stack.baseUrl}/queues/invoices`);
  await waitForHydration(page);
  await page.getByText("Settings (4 set by configuration)").click();
  const row = async (name) => (await page.locator(`tr[data-setting="${name}"] td`).allTextContents()).map((t) => t.trim());
  assert.deepEqual(await row("attempts"), ["attempts", "6", "hoist.toml:2"]);
  assert.deepEqual(await row("max_waiting"), ["max_waiting", "900", "hoist.toml:6 [env.production]"]);
  assert.deepEqual(await row("concurrency"), ["concurrency", "4", "environment variable HOIST_QUEUE_INVOICES_CONCURRENCY"]);
  assert.deepEqual(await row("max_failed"), ["max_failed", "100", "default"]);
  // The job added over the API took the file's attempts.
  const jobs = (await api("GET", "/api/v1/queues/invoices/jobs?state=waiting")).body;
  const listed = jobs.jobs ?? jobs.items ?? jobs;
  assert.equal(listed[0].max_attempts, 6, JSON.stringify(jobs).slice(0, 300));
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});
