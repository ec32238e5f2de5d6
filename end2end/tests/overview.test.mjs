// Signing in through the form, and the overview of every queue.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, apiSession, signIn, startStack, waitForHydration } from "../support/harness.mjs";

let stack;
before(async () => {
  // Sockets re-check their session every second, so the live-feed test is quick.
  stack = await startStack({ env: { HOIST_LIVE_RECHECK_SECONDS: "1" } });
});
after(async () => {
  await stack?.stop();
});

test("the overview sends signed-out visitors to sign in", async () => {
  const res = await fetch(`${stack.baseUrl}/`, { headers: { accept: "text/html" }, redirect: "manual" });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), "/login");
  const login = await fetch(`${stack.baseUrl}/login`);
  assert.equal(login.status, 200);
  assert.match(await login.text(), /Sign in/);
});

test("a wrong password is refused on the form", async () => {
  const page = await stack.newPage();
  await page.goto(`${stack.baseUrl}/login`);
  await waitForHydration(page);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await assert.doesNotReject(page.getByRole("alert").waitFor());
  assert.match(await page.getByRole("alert").textContent(), /invalid username or password/);
  await stack.screenshot(page, "login");
});

test("an admin signs in and sees each queue's counts", async () => {
  const api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  const jobs = [1, 2, 3].map((n) => ({ name: "report", payload: { n } }));
  const r = await api("POST", "/api/v1/queues/e2e-reports/jobs/bulk", { jobs });
  assert.equal(r.status, 202, JSON.stringify(r.body));

  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await waitForHydration(page);
  await assert.doesNotReject(page.getByText("admin (admin)").waitFor());

  const card = page.locator('article.card[data-queue="e2e-reports"]');
  await card.waitFor();
  assert.equal(await card.locator('dd[data-count="waiting"]').textContent(), "3");
  assert.equal(await card.getByRole("heading").textContent(), "e2e-reports");
  await stack.screenshot(page, "overview");

  // New jobs show up without a reload: the WebSocket pushes the counts.
  await page.locator('.live-state[data-live="live"]').waitFor();
  const more = [4, 5].map((n) => ({ name: "report", payload: { n } }));
  assert.equal((await api("POST", "/api/v1/queues/e2e-reports/jobs/bulk", { jobs: more })).status, 202);
  await page.waitForFunction(
    () => document.querySelector('article[data-queue="e2e-reports"] dd[data-count="waiting"]')?.textContent === "5",
    null,
    { timeout: 10000 },
  );

  // The queue page: its jobs, and pause / resume.
  await page.getByRole("link", { name: "e2e-reports" }).click();
  await page.waitForURL(`${stack.baseUrl}/queues/e2e-reports`);
  await waitForHydration(page);
  assert.equal(await page.locator("table.jobs tbody tr").count(), 5);
  await page.getByRole("button", { name: "Pause" }).click();
  await assert.doesNotReject(page.locator("h1 .badge-paused").waitFor());
  assert.equal((await api("GET", "/api/v1/queues/e2e-reports/health")).body.paused, true);
  await stack.screenshot(page, "queue-paused");
  await page.getByRole("button", { name: "Resume" }).click();
  await page.locator("h1 .badge-paused").waitFor({ state: "detached" });
  assert.equal((await api("GET", "/api/v1/queues/e2e-reports/health")).body.paused, false);
  await page.getByRole("link", { name: /^completed/ }).click();
  await assert.doesNotReject(page.getByText("No jobs in this state.").waitFor());
  await page.goto(`${stack.baseUrl}/`);
  await waitForHydration(page);

  // Signing out ends the session.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${stack.baseUrl}/login`);
  await waitForHydration(page);
  await assert.doesNotReject(page.getByRole("link", { name: "Sign in" }).waitFor());
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("a job page shows the payload as text, never as markup, and retries a dead job", async () => {
  const api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  const hostile = { html: "<script>window.__pwned = true</script><b>bold?</b>" };
  const r = await api("POST", "/api/v1/queues/e2e-inert/jobs", { name: "inert", payload: hostile });
  assert.equal(r.status, 202);
  const id = r.body.id;
  // Cancel it so it can be retried from the page.
  assert.equal((await api("POST", `/api/v1/queues/e2e-inert/jobs/${id}/cancel`)).status, 200);

  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.goto(`${stack.baseUrl}/queues/e2e-inert/jobs/${id}`);
  await waitForHydration(page);
  const payload = page.locator('pre[data-field="payload"]');
  assert.match(await payload.textContent(), /<script>window.__pwned = true<\/script>/);
  assert.equal(await page.locator('pre[data-field="payload"] script, pre[data-field="payload"] b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined, "the payload never ran");
  assert.equal(await page.locator(".badge-state").textContent(), "cancelled");
  await stack.screenshot(page, "job");

  await page.getByRole("button", { name: "Retry" }).click();
  await page.locator(".badge-state", { hasText: "waiting" }).waitFor();
  assert.equal((await api("GET", `/api/v1/queues/e2e-inert/jobs/${id}`)).body.state, "waiting");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("a viewer sees no action buttons, and the API refuses them anyway", async () => {
  const admin = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  const created = await admin("POST", "/api/v1/users", { username: "vera", password: "vera-password", role: "viewer" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const r = await admin("POST", "/api/v1/queues/e2e-viewer/jobs", { name: "look", payload: {} });
  assert.equal(r.status, 202);

  const page = await stack.newPage();
  await signIn(stack, page, "vera", "vera-password");
  await page.goto(`${stack.baseUrl}/queues/e2e-viewer`);
  await waitForHydration(page);
  await page.locator("table.jobs").waitFor();
  assert.equal(await page.getByRole("button", { name: "Pause" }).count(), 0);
  await page.goto(`${stack.baseUrl}/queues/e2e-viewer/jobs/${r.body.id}`);
  await waitForHydration(page);
  await page.locator('pre[data-field="payload"]').waitFor();
  for (const name of ["Cancel", "Remove", "Retry"]) {
    assert.equal(await page.getByRole("button", { name }).count(), 0, `no ${name} button`);
  }
  await stack.screenshot(page, "job-as-viewer");

  const viewer = await apiSession(stack.baseUrl, "vera", "vera-password");
  assert.equal((await viewer("POST", "/api/v1/queues/e2e-viewer/pause")).status, 403);
  assert.equal((await viewer("POST", `/api/v1/queues/e2e-viewer/jobs/${r.body.id}/cancel`)).status, 403);
});

test("a dead job is requeued from the dead-letter page and completes", async () => {
  const api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  // The demo processor fails for good during an "outage", so the job dies at once.
  const until = Date.now() + 2500;
  const payload = { duration_ms: 200, outage_until: until };
  const r = await api("POST", "/api/v1/queues/demo/jobs", { name: "demo-sync", payload });
  assert.equal(r.status, 202);
  const id = r.body.id;
  for (let i = 0; i < 100; i++) {
    if ((await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body.state === "dead") break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal((await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body.state, "dead");

  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.getByRole("link", { name: "Dead letters" }).click();
  await page.waitForURL(`${stack.baseUrl}/dead`);
  await waitForHydration(page);
  const row = page.locator(`tr[data-job="${id}"]`);
  await row.waitFor();
  assert.match(await row.locator(".error-cell").textContent(), /down for maintenance/);
  await stack.screenshot(page, "dead-letters");

  // Once the outage is over, requeue it from the page: it runs again and completes.
  await new Promise((res) => setTimeout(res, Math.max(0, until - Date.now() + 100)));
  await page.getByRole("button", { name: `Requeue ${id}` }).click();
  await row.waitFor({ state: "detached" });
  let state;
  for (let i = 0; i < 100; i++) {
    state = (await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body.state;
    if (state === "completed") break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(state, "completed");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("the live feed ends with the session: a demoted user's page follows the new role, a signed-out one goes to sign-in", async () => {
  const admin = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  const created = await admin("POST", "/api/v1/users", { username: "dora", password: "dora-password", role: "viewer" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const page = await stack.newPage();
  await signIn(stack, page, "dora", "dora-password");
  await waitForHydration(page);
  const nav = page.locator("header nav");
  await nav.getByRole("link", { name: "Overview" }).waitFor();

  // Demoted to end user: the overview's socket closes (4003) and the page reloads with the
  // end user's navigation.
  assert.equal((await admin("PATCH", "/api/v1/users/dora", { role: "user" })).status, 204);
  await nav.getByRole("link", { name: "My jobs" }).waitFor({ timeout: 15000 });
  await page.waitForFunction(
    () => ![...document.querySelectorAll("header nav a")].some((a) => a.textContent.trim() === "Overview"),
    null,
    { timeout: 15000 },
  );

  // Signed out in another tab: My jobs' socket closes (4001) and this tab goes to sign-in.
  await page.goto(`${stack.baseUrl}/me`);
  await waitForHydration(page);
  const other = await page.context().newPage();
  await other.goto(`${stack.baseUrl}/me`);
  await waitForHydration(other);
  await other.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${stack.baseUrl}/login`, { timeout: 15000 });
});
