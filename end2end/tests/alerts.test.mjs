// The Alerts page and the firing banner, against a real `hoist serve` that evaluates its
// rules every second: an admin lowers a rule's threshold on the page, the breach fires,
// the banner appears on every staff page and the page lists it; a silence is added and
// ended from the page; a viewer sees the rules but no forms; an end user's pages neither
// show the banner nor ask for it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, apiSession, eventually, signIn, startStack, waitForHydration } from "../support/harness.mjs";

let stack;
let api;
before(async () => {
  stack = await startStack({ env: { HOIST_ALERT_INTERVAL_SECONDS: "1" } });
  api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
});
after(async () => {
  await stack?.stop();
});

test("an admin tunes a rule on the Alerts page; the breach fires, shows in the banner, and is silenced", async () => {
  // Three jobs wait on a paused queue: above a threshold of 2.
  const queue = "alerted";
  for (let i = 0; i < 3; i++) {
    assert.equal((await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "x", payload: {} })).status, 202);
  }
  assert.equal((await api("POST", `/api/v1/queues/${queue}/pause`)).status, 200);

  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.goto(`${stack.baseUrl}/alerts`);
  await waitForHydration(page);
  assert.equal(await page.locator('[data-alerts-open="none"]').count(), 1, "nothing fires yet");
  const rule = page.locator('tr[data-rule="waiting"]');
  await rule.getByLabel(/Alert above/).fill("2");
  await rule.getByLabel(/Pending \(seconds\)/).fill("0");
  await rule.getByRole("button", { name: /Save/ }).click();
  await eventually(async () => {
    const rules = (await api("GET", "/api/v1/alerts")).body.rules;
    const waiting = rules.find((r) => r.kind === "waiting" && r.queue === null);
    return waiting.threshold === 2 && waiting.pending_ms === 0;
  }, "the rule saved");

  // It fires within moments: the page lists it (read again every 15 s), and the banner
  // is on every staff page.
  await eventually(async () => (await api("GET", "/api/v1/alerts")).body.open.some((a) => a.subject === queue && a.state === "firing"), "the alert to fire");
  await page.goto(`${stack.baseUrl}/`);
  await waitForHydration(page);
  const banner = page.locator(".firing-banner");
  await banner.waitFor();
  assert.match(await banner.textContent(), /1 alert firing: Jobs waiting · alerted/);
  await banner.getByRole("link", { name: "See alerts" }).click();
  await page.waitForURL((url) => url.pathname === "/alerts");
  await page.locator(`tr[data-alert="waiting:${queue}"][data-state="firing"]`).waitFor();
  await page.locator('tr[data-alert-event="firing"]').first().waitFor();

  // A silence for an hour, from the page; then ended.
  await page.getByText("Add a silence…").click();
  await page.getByLabel("Rule", { exact: true }).selectOption({ label: "Jobs waiting · every queue" });
  await page.getByLabel("Queue (empty: every queue)").fill(queue);
  await page.getByLabel("Reason", { exact: true }).fill("moving the mail server");
  await page.getByRole("button", { name: "Silence", exact: true }).click();
  await page.locator(".silences li", { hasText: "moving the mail server" }).waitFor();
  const silences = (await api("GET", "/api/v1/alerts")).body.silences;
  assert.equal(silences.length, 1);
  assert.equal(silences[0].subject, queue);
  await page.getByRole("button", { name: "End now" }).click();
  await page.getByText("No silence is on.").waitFor();

  // A viewer reads the page but gets no forms.
  const created = await api("POST", "/api/v1/users", { username: "al-viewer", password: "al-viewer-password", role: "viewer" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const viewer = await stack.newPage();
  await signIn(stack, viewer, "al-viewer", "al-viewer-password");
  await viewer.goto(`${stack.baseUrl}/alerts`);
  await waitForHydration(viewer);
  await viewer.locator('tr[data-rule="waiting"]').waitFor();
  assert.equal(await viewer.getByRole("button", { name: /Save/ }).count(), 0, "no rule forms for a viewer");
  assert.equal(await viewer.getByText("Add a silence…").count(), 0, "no silence form for a viewer");
  assert.match(await viewer.locator(".firing-banner").textContent(), /alert firing/);

  // While it fires, a staff page asks again every 15 s; an end user's page never asks.
  assert.equal((await api("POST", "/api/v1/users", { username: "al-user", password: "al-user-password", role: "user" })).status, 201);
  const endUser = await stack.newPage();
  await signIn(stack, endUser, "al-user", "al-user-password");
  const asked = { staff: 0, user: 0 };
  viewer.on("request", (r) => { if (r.url().includes("get_firing_alerts")) asked.staff++; });
  endUser.on("request", (r) => { if (r.url().includes("get_firing_alerts")) asked.user++; });
  await endUser.goto(`${stack.baseUrl}/me`);
  await waitForHydration(endUser);
  await new Promise((resolve) => setTimeout(resolve, 16_000));
  assert.ok(asked.staff >= 1, "the staff page reads the firing alerts again");
  assert.equal(asked.user, 0, "an end user's page does not ask for alerts");
  assert.equal(await endUser.locator(".firing-banner").count(), 0, "no banner for an end user");

  // Cleared: the jobs go, the alert resolves, the banner goes.
  assert.equal((await api("POST", `/api/v1/queues/${queue}/maintenance`, { action: "drain" })).status, 200);
  await eventually(async () => (await api("GET", "/api/v1/alerts")).body.recent.some((e) => e.subject === queue && e.transition === "resolved"), "the alert to resolve");
  await page.goto(`${stack.baseUrl}/`);
  await waitForHydration(page);
  assert.equal(await page.locator(".firing-banner").count(), 0, "no banner once it cleared");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});
