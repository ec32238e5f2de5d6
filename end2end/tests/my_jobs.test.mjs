// An end user's own page: their bank connections, "sync now", and the job's progress bar
// moving to 100% as the live feed reports it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { signIn, startStack, waitForHydration } from "../support/harness.mjs";

let stack;
before(async () => {
  // Demo mode seeds the `demo` end user and their connections; no random provider faults
  // and quick retries keep the test steady.
  stack = await startStack({
    args: ["--demo"],
    env: { HOIST_DEMO_PROVIDER_FAULT_RATE: "0.000001", HOIST_SYNC_RETRY_BASE_MS: "200" },
  });
});
after(async () => {
  await stack?.stop();
});

test("an end user syncs a connection and watches the bar reach 100%", async () => {
  const page = await stack.newPage();
  assert.equal(await signIn(stack, page, "demo", "demo-password"), "/me", "an end user starts on their own jobs");

  const before = await page.locator("li.my-job").evaluateAll((rows) => rows.map((r) => r.dataset.job));
  await page.getByRole("button", { name: "Sync Golomt Bank now" }).click();
  const row = page.locator("li.my-job").first();
  await page.waitForFunction(
    (known) => {
      const first = document.querySelector("li.my-job");
      return first && !known.includes(first.dataset.job);
    },
    before,
    { timeout: 15000 },
  );
  const id = await row.getAttribute("data-job");
  const mine = page.locator(`li.my-job[data-job="${id}"]`);
  await mine.locator('.badge-state[data-state="completed"]').waitFor({ timeout: 30000 });
  assert.equal(await mine.locator("progress").getAttribute("value"), "100");
  await stack.screenshot(page, "my-jobs");

  // Their job's page names its queue without a link to the staff-only queue page.
  await mine.locator("a.mono").click();
  await page.waitForURL(/\/queues\/sync\/jobs\//);
  await waitForHydration(page);
  await page.locator("h1").first().waitFor();
  assert.equal(await page.locator(".crumbs a").count(), 0, "no link to the queue page");
  assert.equal(await page.locator(".crumbs").textContent().then((t) => t.startsWith("sync")), true);
  await page.goto(`${stack.baseUrl}/me`);
  await waitForHydration(page);

  // The overview is for staff: an end user who types it in is back on their own jobs.
  await page.goto(`${stack.baseUrl}/`);
  await waitForHydration(page);
  assert.equal(new URL(page.url()).pathname, "/me");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
  assert.deepEqual(page.failedRequests, [], "no failed requests");
});
