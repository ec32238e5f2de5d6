// The Reports pages against a real `hoist serve` running the reports processor: an admin
// runs all three reports for today from the page, they appear in the list, each opens
// with its charts (inline SVG with a text summary) and tables, the slowest jobs link to
// their job pages, and the downloads parse; an operator is refused.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, apiSession, eventually, signIn, startStack, waitForHydration } from "../support/harness.mjs";

let stack;
let api;
before(async () => {
  stack = await startStack();
  api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
});
after(async () => {
  await stack?.stop();
});

test("an admin runs the reports from the page and reads them, charts and tables", async () => {
  // Jobs that end today: cancelled ones (nobody works this queue).
  const queue = "reported";
  const ids = [];
  for (let i = 0; i < 4; i++) {
    const r = await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "nightly-export", payload: { i } });
    assert.equal(r.status, 202);
    ids.push(r.body.id);
  }
  for (const id of ids.slice(0, 3)) {
    assert.equal((await api("POST", `/api/v1/queues/${queue}/jobs/${id}/cancel`)).status, 200);
  }
  await eventually(async () => {
    const r = await api("GET", `/api/v1/history?queue=${queue}&status=cancelled`);
    return r.status === 200 && r.body.records.length === 3;
  }, "the cancelled jobs in the history", 30000);

  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.goto(`${stack.baseUrl}/reports`);
  await waitForHydration(page);
  await page.getByText("No reports yet.").waitFor();
  const today = new Date().toISOString().slice(0, 10);
  await page.getByText("Run a report now").click();
  await page.getByLabel("Report", { exact: true }).selectOption({ label: "All three" });
  await page.getByLabel("First day").fill(today);
  await page.getByLabel("Last day").fill(today);
  await page.getByRole("button", { name: "Run", exact: true }).click();
  const notice = page.locator("[data-report-job]");
  await notice.waitFor();
  assert.match(await notice.textContent(), /Running as job/);

  await eventually(async () => (await api("GET", "/api/v1/reports")).body.reports?.length === 3, "three reports", 30000);
  await page.goto(`${stack.baseUrl}/reports`);
  await waitForHydration(page);
  assert.equal(await page.locator("tr[data-report]").count(), 3);

  // Usage: the hours chart is an image with a summary, the queue is in the table.
  await page.locator('tr[data-kind="usage"] a', { hasText: "Usage" }).click();
  await page.waitForURL((url) => /\/reports\/\d+$/.test(url.pathname));
  await waitForHydration(page);
  assert.match(await page.locator("h1").textContent(), new RegExp(`Usage · ${today}`));
  const hours = page.locator("figure.hours svg[role=img]");
  assert.match(await hours.getAttribute("aria-label"), /^3 jobs ended; the busiest hour was/);
  const row = page.locator("table.report-jobs tr", { hasText: queue });
  assert.match(await row.textContent(), /nightly-export/);
  const cells = await row.locator("td").allTextContents();
  assert.deepEqual(cells.slice(2), ["4", "0", "0", "0", "0", "3", "0"], "enqueued 4, cancelled 3");

  // The downloads parse.
  const usageId = page.url().split("/").pop();
  const json = await page.request.get(`${stack.baseUrl}/api/v1/reports/${usageId}/download?format=json`);
  assert.equal((await json.json()).figures.usage.totals.cancelled, 3);
  const csv = await page.request.get(`${stack.baseUrl}/api/v1/reports/${usageId}/download?format=csv`);
  const lines = (await csv.text()).trim().split("\n");
  assert.equal(lines[0].trim(), "queue,name,enqueued,completed,failed,retried,dead,cancelled,expired");
  assert.ok(lines.some((l) => l.startsWith(`${queue},nightly-export,4,`)), lines.join("\n"));

  // Performance: one bar per hour of the day, read out as a summary.
  await page.goto(`${stack.baseUrl}/reports`);
  await waitForHydration(page);
  await page.locator('tr[data-kind="performance"] a', { hasText: "Performance" }).click();
  await page.waitForURL((url) => /\/reports\/\d+$/.test(url.pathname));
  await waitForHydration(page);
  const throughput = page.locator("figure.report-throughput svg[role=img]");
  assert.match(await throughput.getAttribute("aria-label"), /completed and \d+ dead; at most \d+ in one hour/);
  await page.locator("table.report-timings").waitFor();

  // Audit: the run itself is in it, by the admin.
  await page.goto(`${stack.baseUrl}/reports`);
  await waitForHydration(page);
  await page.locator('tr[data-kind="audit"] a', { hasText: "Audit" }).click();
  await page.waitForURL((url) => /\/reports\/\d+$/.test(url.pathname));
  await waitForHydration(page);
  const actions = page.locator("table.report-actions tr", { hasText: "report.run" });
  assert.match(await actions.textContent(), /admin/);
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");

  // An operator is refused the page's data.
  assert.equal((await api("POST", "/api/v1/users", { username: "rp-operator", password: "rp-operator-password", role: "operator" })).status, 201);
  const operator = await stack.newPage();
  await signIn(stack, operator, "rp-operator", "rp-operator-password");
  await operator.goto(`${stack.baseUrl}/reports`);
  await waitForHydration(operator);
  await operator.getByText("reports need the admin role").waitFor();
});
