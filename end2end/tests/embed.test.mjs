// Hoist embedded in a host axum application (server/examples/embed.rs): the host's own
// pages and sign-in, its typed job, and the dashboard nested at /hoist, signed in through
// the host's session. Pages, assets, server functions and the live feed all work under
// the prefix.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { repoRoot, startStack, waitForHydration } from "../support/harness.mjs";

let stack;
before(async () => {
  stack = await startStack({
    bin: process.env.EMBED_BIN ?? join(repoRoot, "target", "debug", "examples", "embed"),
    addrVariable: "APP_ADDR",
    mount: "/hoist",
    env: { HOIST_PROCESSORS: "" },
  });
});
after(async () => {
  await stack?.stop();
});

test("the host signs in, enqueues its typed job and watches it complete in the mounted dashboard", async () => {
  const page = await stack.newPage();
  const requests = [];
  const failures = [];
  page.on("request", (r) => requests.push(new URL(r.url()).pathname));
  page.on("response", (r) => r.status() >= 400 && failures.push(`${r.status()} ${new URL(r.url()).pathname}`));

  // The host's own route answers, with its own sign-in.
  await page.goto(`${stack.baseUrl}/`);
  await page.getByPlaceholder("name").fill("alice");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Signed in as alice").waitFor();

  // The dashboard under /hoist knows the host's user and shows the host's queue.
  await page.getByRole("link", { name: "Jobs dashboard" }).click();
  await page.waitForURL(`${stack.baseUrl}/hoist`);
  await waitForHydration(page);
  assert.match(await page.locator(".account .who").textContent(), /alice \(operator\)/);
  const queueLink = page.locator('a[href="/hoist/queues/emails"]');
  await queueLink.waitFor();

  // Client-side navigation stays under the prefix.
  await queueLink.click();
  await page.waitForURL(`${stack.baseUrl}/hoist/queues/emails`);
  await page.getByRole("heading", { name: /emails/ }).first().waitFor();

  // Enqueue through the host's route, follow its link to the job's page.
  await page.goto(`${stack.baseUrl}/`);
  await page.getByPlaceholder("email").fill("bob@example.com");
  await page.getByRole("button", { name: "Sign up" }).click();
  const jobLink = page.locator('a[href^="/hoist/queues/emails/jobs/"]');
  await jobLink.waitFor();
  await jobLink.click();
  await page.waitForURL(/\/hoist\/queues\/emails\/jobs\//);
  await waitForHydration(page);
  const stateAtLoad = await page.locator(".badge-state").textContent();
  assert.notEqual(stateAtLoad, "completed", "the job takes 4 s: the page must see it finish");

  // Completed without a reload: the live feed under /hoist/api/v1/live said so.
  await page.locator(".badge-state", { hasText: "completed" }).waitFor({ timeout: 30000 });
  const result = JSON.parse(await page.locator('pre[data-field="result"]').textContent());
  assert.deepEqual(result, { message_id: "<welcome.bob.example.com@example.com>" });
  await stack.screenshot(page, "embedded-job");

  // Every dashboard request went under the prefix: nothing hit the host's root paths.
  const stray = requests.filter((p) => /^\/(pkg|api)\//.test(p));
  assert.deepEqual(stray, [], "no asset or API request outside /hoist");
  assert.ok(requests.some((p) => p.startsWith("/hoist/pkg/")), "assets loaded from /hoist/pkg");

  // The host's route still answers beside the dashboard.
  const home = await fetch(`${stack.baseUrl}/`);
  assert.equal(home.status, 200);
  assert.match(await home.text(), /My app/);
  // The host's own pages have no icon (the browser's /favicon.ico is the host's 404).
  assert.deepEqual(failures.filter((f) => f !== "404 /favicon.ico"), [], "no failed request");
  const errors = page.consoleErrors.filter((e) => !e.includes("status of 404"));
  assert.deepEqual(errors, [], "no console errors");
});

test("without the host's session the dashboard asks to sign in, and Hoist's own accounts still work", async () => {
  const page = await stack.newPage();
  await page.goto(`${stack.baseUrl}/hoist`);
  await waitForHydration(page);
  assert.equal(new URL(page.url()).pathname, "/hoist/login", "sent to sign in, under the prefix");
  await page.locator("a.account", { hasText: "Sign in" }).waitFor();
  assert.equal(await page.locator("a.account").getAttribute("href"), "/hoist/login");

  // Hoist's own sign-in form, under the prefix, with the admin's password.
  await page.goto(`${stack.baseUrl}/hoist/login`);
  await waitForHydration(page);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("e2e-admin-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${stack.baseUrl}/hoist`);
  await waitForHydration(page);
  assert.match(await page.locator(".account .who").textContent(), /admin \(admin\)/);
});
