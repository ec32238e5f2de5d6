// Search: autocomplete while typing, a query with qualifiers and a payload path, the
// match count, a confirmed bulk retry, a CSV export, and a saved search that shows on the
// overview with its count. The page is saved as a screenshot in end2end/artifacts/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, apiSession, eventually, signIn, sleep, startStack, waitForHydration } from "../support/harness.mjs";

let stack;
let api;
before(async () => {
  stack = await startStack();
  api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
});
after(async () => {
  await stack?.stop();
});

test("search with autocomplete, a bulk retry of what it found, an export and a saved search", async () => {
  // Nothing works this queue: jobs wait until cancelled, then wait again once retried.
  const queue = "search-e2e";
  const acme = [];
  for (let i = 0; i < 6; i++) {
    const customer = i < 4 ? "acme-77" : "globex";
    const r = await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "invoice", payload: { customer, n: i } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    if (customer === "acme-77") acme.push(r.body.id);
    // Every acme job but one is cancelled.
    if (customer === "acme-77" && i > 0) {
      const c = await api("POST", `/api/v1/queues/${queue}/jobs/${r.body.id}/cancel`);
      assert.ok(c.status < 300, JSON.stringify(c.body));
    }
  }
  const cancelled = acme.slice(1);
  const query = `queue:${queue} state:cancelled payload.customer:acme-77`;
  // The history copier indexes the jobs within a pass.
  await eventually(async () => {
    const r = await api("GET", `/api/v1/search?q=${encodeURIComponent(query)}`);
    return r.body.hits?.length === cancelled.length;
  }, "the cancelled jobs in the index");

  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.goto(`${stack.baseUrl}/search`);
  await waitForHydration(page);

  // Autocomplete: a qualifier, then a queue name.
  const box = page.getByLabel("Query");
  await box.pressSequentially("sta");
  await page.locator('#search-suggestions option[value="state:"]').waitFor({ state: "attached" });
  await box.fill("");
  await box.pressSequentially("queue:search-");
  await page.locator(`#search-suggestions option[value="queue:${queue}"]`).waitFor({ state: "attached" });

  await box.fill(query);
  await box.press("Enter");
  await page.waitForURL(/q=queue/);
  await waitForHydration(page);
  for (const id of cancelled) await page.locator(`tr[data-job="${id}"]`).waitFor();
  assert.equal(await page.locator("table.search-results tbody tr").count(), cancelled.length);
  await page.locator(`.match-count[data-count="${cancelled.length}"]`).waitFor();
  await stack.screenshot(page, "search");

  // Export what matched, as the browser would download it (with the session).
  const href = await page.getByRole("link", { name: "Export CSV" }).getAttribute("href");
  const csv = await page.request.get(`${stack.baseUrl}${href}`);
  assert.equal(csv.status(), 200);
  const lines = (await csv.text()).trim().split("\n");
  assert.equal(lines[0].split(",")[0], "queue");
  assert.equal(lines.length, 1 + cancelled.length);
  for (const id of cancelled) assert.ok(lines.some((line) => line.includes(id)), `${id} exported`);

  // Bulk retry, behind a confirmation.
  await page.getByText(`Retry all ${cancelled.length}…`).click();
  await page.getByRole("button", { name: `Retry all ${cancelled.length} matching` }).click();
  await page.locator(".bulk-result").filter({ hasText: `retry: ${cancelled.length} of ${cancelled.length}` }).waitFor();
  for (const id of cancelled) {
    assert.equal((await api("GET", `/api/v1/queues/${queue}/jobs/${id}`)).body.state, "waiting", `${id} retried`);
  }
  const audit = await api("GET", "/api/v1/audit");
  assert.ok(audit.body.some((e) => e.action === "search.retry"), "the bulk retry is audited");

  // Save the search; the overview shows it with its count (none are cancelled now).
  await page.getByLabel("Save this search as").fill("acme cancelled");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.locator('li[data-saved="acme cancelled"]').first().waitFor();
  await page.goto(`${stack.baseUrl}/`);
  await waitForHydration(page);
  const saved = page.locator('.saved-searches li[data-saved="acme cancelled"]');
  await saved.waitFor();
  await eventually(async () => {
    await page.reload();
    await waitForHydration(page);
    return (await saved.locator(".badge").textContent()) === "0";
  }, "the saved search's count to drop to 0 once the retried jobs are indexed");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});
