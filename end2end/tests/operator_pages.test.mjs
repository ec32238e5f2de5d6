// The operator's pages: pausing a queue really stops work, queue search and drain behind a
// confirmation, selecting dead jobs, schedules, history, the audit log and users, and the
// navigation each role gets. Each page is saved as a screenshot in end2end/artifacts/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
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

async function adminPage(path) {
  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.goto(`${stack.baseUrl}${path}`);
  await waitForHydration(page);
  return page;
}

test("an operator sets a queue's limits on its page; a viewer sees them but cannot change them", async () => {
  const page = await adminPage("/queues/demo");
  const inForce = page.locator('[data-limits="in-force"]');
  assert.match(await inForce.textContent(), /No limits across workers/);
  await page.getByText("Change limits…").click();
  await page.getByLabel("Most active at once").fill("3");
  await page.getByLabel("Most starts per window").fill("10");
  await page.getByLabel("Window (seconds)").fill("60");
  await page.getByRole("button", { name: "Save limits" }).click();
  await page.locator('[data-limits="in-force"]', { hasText: "At most 3 active at once" }).waitFor();
  assert.match(await page.locator('[data-limits="in-force"]').textContent(), /at most 10 starts per 1 min 0 s/);
  const limits = await api("GET", "/api/v1/queues/demo/limits");
  assert.deepEqual(limits.body, { concurrency: 3, rate: { max: 10, per_ms: 60000 }, process_concurrency: null, group_concurrency: null });

  // A window without its count is refused, naming the box.
  await page.locator(".limits details").evaluate((details) => (details.open = true));
  await page.getByLabel("Most starts per window").fill("");
  await page.getByRole("button", { name: "Save limits" }).click();
  await page.locator(".limits .error", { hasText: "needs its most starts" }).waitFor();

  const created = await api("POST", "/api/v1/users", { username: "lim-viewer", password: "lim-viewer-password", role: "viewer" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const viewer = await stack.newPage();
  await signIn(stack, viewer, "lim-viewer", "lim-viewer-password");
  await viewer.goto(`${stack.baseUrl}/queues/demo`);
  await waitForHydration(viewer);
  assert.match(await viewer.locator('[data-limits="in-force"]').textContent(), /At most 3 active at once/);
  assert.equal(await viewer.getByText("Change limits…").count(), 0, "no form for a viewer");

  // A window set to the millisecond over the API survives a save that changes another box.
  assert.equal((await api("PUT", "/api/v1/queues/demo/limits", { concurrency: 3, rate: { max: 10, per_ms: 1500 }, process_concurrency: null, group_concurrency: null })).status, 200);
  await page.reload();
  await waitForHydration(page);
  await page.locator(".limits details").evaluate((details) => (details.open = true));
  assert.equal(await page.getByLabel("Window (seconds)").inputValue(), "1.5");
  await page.getByLabel("Most active at once").fill("4");
  await page.getByLabel("Most at once in each process").fill("3");
  await page.getByLabel("Most at once of any one group").fill("2");
  await page.getByRole("button", { name: "Save limits" }).click();
  await page.locator('[data-limits="in-force"]', { hasText: "At most 4 active at once" }).waitFor();
  assert.match(await page.locator('[data-limits="in-force"]').textContent(), /3 at once in each process/);
  assert.match(await page.locator('[data-limits="in-force"]').textContent(), /2 at once of each group/);
  assert.deepEqual((await api("GET", "/api/v1/queues/demo/limits")).body, {
    concurrency: 4,
    rate: { max: 10, per_ms: 1500 },
    process_concurrency: 3,
    group_concurrency: 2,
  });

  // Back to none, for the tests after this one.
  assert.equal((await api("PUT", "/api/v1/queues/demo/limits", { concurrency: null, rate: null, process_concurrency: null, group_concurrency: null })).status, 200);
});

test("pausing a queue from its page stops processing; resuming restarts it", async () => {
  const page = await adminPage("/queues/demo");
  await page.getByRole("button", { name: "Pause" }).click();
  await page.locator("h1 .badge-paused").waitFor();

  const ids = [];
  for (let i = 0; i < 3; i++) {
    const r = await api("POST", "/api/v1/queues/demo/jobs", { name: "demo-sync", payload: { duration_ms: 20 } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    ids.push(r.body.id);
  }
  // The server's demo worker is running; paused, it must not start any of them.
  await sleep(2000);
  for (const id of ids) {
    assert.equal((await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body.state, "waiting", `job ${id} waits`);
  }

  await page.getByRole("button", { name: "Resume" }).click();
  await page.locator("h1 .badge-paused").waitFor({ state: "detached" });
  await eventually(async () => {
    const states = await Promise.all(ids.map(async (id) => (await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body.state));
    return states.every((s) => s === "completed");
  }, "the jobs to complete after resume");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("a job's page follows the job live: a change of state shows without a reload", async () => {
  const queue = "live-job";
  const r = await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "watched", payload: {} });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const id = r.body.id;
  // The live hub looks for new queues every 2 s; nothing works this queue.
  await sleep(2500);
  const page = await adminPage(`/queues/${queue}/jobs/${id}`);
  await page.locator("h1 .badge-waiting").waitFor();
  await page.evaluate(() => (window.__sameDocument = true));
  await sleep(500); // the socket connects after hydration
  const cancelled = await api("POST", `/api/v1/queues/${queue}/jobs/${id}/cancel`);
  assert.ok(cancelled.status < 300, JSON.stringify(cancelled.body));
  await page.locator("h1 .badge-cancelled").waitFor({ timeout: 5000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("the queue page follows its queue live: tab counts and rows change without a reload", async () => {
  const queue = "live-queue";
  const first = await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "first", payload: {} });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  await sleep(2500); // the live hub looks for new queues every 2 s; nothing works this one
  const page = await adminPage(`/queues/${queue}?state=waiting`);
  const waitingTab = page.locator('nav.tabs a[href$="state=waiting"] .tab-count');
  assert.equal(await waitingTab.textContent(), "1");
  assert.equal(await page.locator("table.jobs tbody tr").count(), 1);
  await page.evaluate(() => (window.__sameDocument = true));
  await page.locator('.live-state[data-live="live"]').waitFor({ timeout: 10000 });

  const jobs = ["second", "third", "fourth"].map((name) => ({ name, payload: {} }));
  const added = await api("POST", `/api/v1/queues/${queue}/jobs/bulk`, { jobs });
  assert.equal(added.status, 202, JSON.stringify(added.body));
  await page.waitForFunction(
    () => document.querySelector('nav.tabs a[href$="state=waiting"] .tab-count')?.textContent === "4",
    null,
    { timeout: 10000 },
  );
  await page.waitForFunction(() => document.querySelectorAll("table.jobs tbody tr").length === 4, null, {
    timeout: 10000,
  });
  // A job cancelled elsewhere leaves the waiting rows and shows in the cancelled tab.
  assert.ok((await api("POST", `/api/v1/queues/${queue}/jobs/${first.body.id}/cancel`)).status < 300);
  await page.locator(`table.jobs tbody tr[data-job="${first.body.id}"]`).waitFor({ state: "detached", timeout: 10000 });
  await page.waitForFunction(
    () => document.querySelector('nav.tabs a[href$="state=cancelled"] .tab-count')?.textContent === "1",
    null,
    { timeout: 10000 },
  );
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
  assert.deepEqual(page.failedRequests, [], "no failed requests");
});

test("a resync from the server makes the page read its data again", async () => {
  const queue = "e2e-resync";
  await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "first", payload: {} });
  await sleep(2500); // the live hub looks for new queues every 2 s; nothing works this one
  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  // Between the page and the server: messages pass, unless held back; the test can send
  // the page a message of its own, as the server does to a client that fell behind.
  let toPage;
  let holding = false;
  await page.routeWebSocket(/\/api\/v1\/live/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => holding || ws.send(message));
    ws.onMessage((message) => server.send(message));
    toPage = ws;
  });
  await page.goto(`${stack.baseUrl}/queues/${queue}?state=waiting`);
  await waitForHydration(page);
  await page.locator('.live-state[data-live="live"]').waitFor();
  const waitingTab = page.locator('nav.tabs a[href$="state=waiting"] .tab-count');
  assert.equal(await waitingTab.textContent(), "1");

  // A job the page is not told about: the feed missed it.
  holding = true;
  await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "second", payload: {} });
  await sleep(1500);
  assert.equal(await waitingTab.textContent(), "1", "the count message was held back");
  await page.evaluate(() => (window.__sameDocument = true));
  toPage.send(JSON.stringify([{ type: "resync" }]));
  await page.waitForFunction(
    () => document.querySelectorAll("table.jobs tbody tr").length === 2 &&
      document.querySelector('nav.tabs a[href$="state=waiting"] .tab-count')?.textContent === "2",
    null,
    { timeout: 5000 },
  );
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "read again, not reloaded");
  holding = false;
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("the queue page finds jobs by name or id and drains only after a confirmation", async () => {
  const jobs = ["alpha", "alpha", "beta"].map((name, i) => ({ name, payload: { i } }));
  const r = await api("POST", "/api/v1/queues/e2e-maint/jobs/bulk", { jobs });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const betaId = r.body.jobs[2].id;

  const page = await adminPage("/queues/e2e-maint");
  assert.equal(await page.locator("table.jobs tbody tr").count(), 3);
  await page.getByLabel("Job id or name").fill("beta");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/q=beta/);
  await page.waitForFunction(() => document.querySelectorAll("table.jobs tbody tr").length === 1);
  assert.equal(await page.locator("table.jobs tbody tr").getAttribute("data-job"), betaId);

  await page.goto(`${stack.baseUrl}/queues/e2e-maint?q=${betaId}`);
  await waitForHydration(page);
  assert.equal(await page.locator(`table.jobs tr[data-job="${betaId}"]`).count(), 1);
  await page.goto(`${stack.baseUrl}/queues/e2e-maint`);
  await waitForHydration(page);

  // The drain button is inside a disclosure that says what it will do.
  const drain = page.getByRole("button", { name: "Drain queue" });
  assert.equal(await drain.isVisible(), false, "hidden until the operator opens the confirmation");
  await page.getByText("Drain…").click();
  assert.match(await page.locator("details.confirm[open] p").first().textContent(), /cannot be undone/);
  await stack.screenshot(page, "queue-drain-confirm");
  await drain.click();
  await page.getByRole("status").filter({ hasText: "Done: 3 jobs." }).waitFor();
  await page.getByText("No jobs in this state.").waitFor();
  assert.equal((await api("GET", "/api/v1/queues/e2e-maint/health")).body.counts.waiting, 0);
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("selected dead jobs are purged, the rest stay", async () => {
  // During a simulated outage the demo processor fails for good: the jobs die at once.
  const payload = { duration_ms: 10, outage_until: Date.now() + 60 * 60 * 1000 };
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const r = await api("POST", "/api/v1/queues/demo/jobs", { name: "demo-sync", payload });
    ids.push(r.body.id);
  }
  await eventually(async () => {
    const states = await Promise.all(ids.map(async (id) => (await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body.state));
    return states.every((s) => s === "dead");
  }, "three dead jobs");

  const page = await adminPage("/dead?queue=demo");
  for (const id of ids) await page.locator(`tr[data-job="${id}"]`).waitFor();
  await page.getByLabel(`Select ${ids[0]}`).check();
  await page.getByLabel(`Select ${ids[1]}`).check();
  await page.getByLabel("With selected").selectOption("purge");
  await stack.screenshot(page, "dead-letters-selected");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("status").filter({ hasText: "2 jobs done." }).waitFor();
  await page.locator(`tr[data-job="${ids[0]}"]`).waitFor({ state: "detached" });
  assert.equal(await page.locator(`tr[data-job="${ids[1]}"]`).count(), 0);
  assert.equal(await page.locator(`tr[data-job="${ids[2]}"]`).count(), 1);
  assert.equal((await api("GET", `/api/v1/queues/demo/jobs/${ids[0]}`)).status, 404);
  assert.equal((await api("GET", `/api/v1/queues/demo/jobs/${ids[2]}`)).body.state, "dead");

  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");

  // Applying with nothing selected is refused, and nothing else is touched.
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("alert").filter({ hasText: "select at least one job" }).waitFor();
  assert.equal((await api("GET", `/api/v1/queues/demo/jobs/${ids[2]}`)).body.state, "dead");
});

test("schedules show their next fire and run now by hand", async () => {
  const page = await adminPage("/schedules");
  const row = page.locator('tr[data-schedule="categorize-transactions"]');
  await row.waitFor();
  // When it runs, in words, with the expression and its time zone beside.
  assert.equal(await row.locator("[data-cron-words]").textContent(), "Every hour, on the hour");
  assert.match(await row.textContent(), /0 \* \* \* \* · UTC/);
  assert.equal(
    await page.locator('tr[data-schedule="refresh-consents"] [data-cron-words]').textContent(),
    "At 03:00, every day",
  );
  // Next fire reads as a relative time, with the exact time on hover.
  const next = row.locator("[data-next-fire] time");
  assert.match(await next.textContent(), /^in \d+ (s|min)$/);
  assert.match(await next.getAttribute("title"), /^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d\d:00:00 UTC$/);
  await page.getByRole("button", { name: "Run now categorize-transactions" }).click();
  await row.locator(".fires li", { hasText: "by hand" }).waitFor();
  await page.getByRole("button", { name: "Pause categorize-transactions" }).click();
  await row.locator(".badge-paused").waitFor();
  await stack.screenshot(page, "schedules");
  await page.getByRole("button", { name: "Resume categorize-transactions" }).click();
  await row.locator(".badge-paused").waitFor({ state: "detached" });
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("the schedules page moves on by itself as a schedule fires", async () => {
  const put = await api("PUT", "/api/v1/schedules/e2e-every-3s", {
    name: "e2e-every-3s",
    cron: "*/3 * * * * *",
    queue: "e2e-sched",
    job: { name: "tick", payload: {} },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  try {
    const page = await adminPage("/schedules");
    const row = page.locator('tr[data-schedule="e2e-every-3s"]');
    assert.equal(await row.locator("[data-cron-words]").textContent(), "Every 3 seconds");
    await page.evaluate(() => (window.__sameDocument = true));
    const firstNext = await row.locator("[data-next-fire] time").getAttribute("datetime");
    // Two fires later, without a reload: a newer next fire, a last fire, fires listed.
    await page.waitForFunction(
      (before) => {
        const row = document.querySelector('tr[data-schedule="e2e-every-3s"]');
        const next = row?.querySelector("[data-next-fire] time")?.getAttribute("datetime");
        return next && next > before && row.querySelector("[data-last-fire] time") && row.querySelectorAll(".fires li").length >= 2;
      },
      firstNext,
      { timeout: 15000 },
    );
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
    assert.match(await row.locator("[data-last-fire] time").textContent(), /^(just now|\d+ s ago)$/);
    assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
    assert.deepEqual(page.failedRequests, [], "no failed requests");
  } finally {
    await api("DELETE", "/api/v1/schedules/e2e-every-3s");
  }
});

test("the dead-letter list follows new deaths live and keeps ticked boxes ticked", async () => {
  // During a simulated outage the demo processor fails for good: a job dies at once.
  const outage = { duration_ms: 10, outage_until: Date.now() + 60 * 60 * 1000 };
  const kill = async () => {
    const r = await api("POST", "/api/v1/queues/demo/jobs", { name: "demo-sync", payload: outage });
    await eventually(async () => (await api("GET", `/api/v1/queues/demo/jobs/${r.body.id}`)).body.state === "dead", "a dead job");
    return r.body.id;
  };
  const first = await kill();
  const page = await adminPage("/dead?queue=demo");
  await page.locator(`tr[data-job="${first}"]`).waitFor();
  await page.getByLabel(`Select ${first}`).check();
  await page.evaluate(() => (window.__sameDocument = true));
  const second = await kill();
  await page.locator(`tr[data-job="${second}"]`).waitFor({ timeout: 10000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  assert.equal(await page.getByLabel(`Select ${first}`).isChecked(), true, "the tick survives the re-read");
  assert.equal(await page.getByLabel(`Select ${second}`).isChecked(), false);
  // The "all matching" button counts the rows as they are now.
  const all = await page.locator("details.confirm summary").first().textContent();
  const rows = await page.locator("table.dead tbody tr").count();
  assert.equal(all, `Requeue all ${rows}…`);
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
  assert.deepEqual(page.failedRequests, [], "no failed requests");
});

test("a dead job is fixed and retried from its page, duplicated, and its enqueue copied as curl works", async () => {
  // Dies at once: the demo processor fails for good during a simulated outage.
  const r = await api("POST", "/api/v1/queues/demo/jobs", {
    name: "demo-sync",
    payload: { duration_ms: 10, outage_until: Date.now() + 60 * 60 * 1000 },
    options: { group: "org-7" },
  });
  const id = r.body.id;
  await eventually(async () => (await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body.state === "dead", "a dead job");
  const page = await adminPage(`/queues/demo/jobs/${id}`);
  await page.locator("h1 .badge-dead").waitFor();
  assert.equal(await page.locator("dd[data-group]").textContent(), "org-7", "the page names the job's group");

  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
  // Not JSON: refused, naming the payload; the job stays dead.
  await page.getByText("Edit payload and retry…").click();
  const editor = page.getByLabel("Payload (JSON)");
  assert.match(await editor.inputValue(), /outage_until/);
  await editor.fill("{ oops");
  await page.getByRole("button", { name: "Retry with this payload" }).click();
  await page.getByRole("alert").filter({ hasText: "not JSON" }).waitFor();
  assert.equal((await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body.state, "dead");
  // Fixed: it runs again, same job, and completes (the page follows it live).
  await editor.fill('{ "duration_ms": 10, "note": "fixed" }');
  await page.getByRole("button", { name: "Retry with this payload" }).click();
  await page.locator("h1 .badge-completed").waitFor({ timeout: 15000 });
  const fixed = (await api("GET", `/api/v1/queues/demo/jobs/${id}`)).body;
  assert.deepEqual(fixed.payload, { duration_ms: 10, note: "fixed" });
  // Its timeline: created, the attempt that failed, the start after the fix, completed.
  const steps = await page.locator(".attempt-timeline li").evaluateAll((items) => items.map((li) => li.dataset.step));
  assert.deepEqual(steps, ["created", "failed", "active", "completed"]);

  // Copy as curl: the command, run in a shell with a token, enqueues the same job.
  await page.getByText("Copy as curl").click();
  const command = await page.locator('pre[data-field="curl"]').textContent();
  assert.match(command, /^curl -X POST "\$HOIST_URL\/api\/v1\/queues\/demo\/jobs"/);
  const created = execFileSync(stack.bin, ["token", "create", "admin", "--name", "e2e-curl", "--scopes", "jobs:write"], {
    env: { ...process.env, ...stack.serverEnv },
  }).toString();
  const token = created.match(/: (\S+)\n/)[1];
  const answer = JSON.parse(
    execFileSync("sh", ["-c", command], { env: { ...process.env, HOIST_URL: stack.baseUrl, HOIST_TOKEN: token } }).toString(),
  );
  const viaCurl = (await api("GET", `/api/v1/queues/demo/jobs/${answer.id}`)).body;
  assert.equal(viaCurl.name, "demo-sync");
  assert.deepEqual(viaCurl.payload, fixed.payload);
  assert.equal(viaCurl.group, "org-7", "the copied command keeps the group");

  // Duplicate: a new job with the same input, and its page opens.
  await page.getByRole("button", { name: "Duplicate" }).click();
  await page.waitForURL((url) => url.pathname.startsWith("/queues/demo/jobs/") && !url.pathname.endsWith(id));
  const copyId = new URL(page.url()).pathname.split("/").pop();
  const copy = (await api("GET", `/api/v1/queues/demo/jobs/${copyId}`)).body;
  assert.deepEqual([copy.name, copy.payload, copy.group], ["demo-sync", fixed.payload, "org-7"]);
  await waitForHydration(page);
  assert.equal(await page.locator(".crumbs .mono").textContent(), copyId, "the copy's own page");
  assert.equal(await page.locator(".crumbs a").getAttribute("href"), "/queues/demo", "staff get a link to the queue");
  // Back is the original's page, and stays there.
  await page.goBack();
  await page.waitForURL((url) => url.pathname.endsWith(id));
  await sleep(1000);
  assert.ok(new URL(page.url()).pathname.endsWith(id));

  const audit = await api("GET", "/api/v1/audit?limit=20");
  assert.equal(audit.status, 200, JSON.stringify(audit.body));
  const actions = audit.body.map((e) => e.action);
  assert.ok(actions.includes("retry-edited") && actions.includes("duplicate"), JSON.stringify(actions));
  // Only the refused edit's answer (the browser logs a 400 as an error).
  assert.deepEqual(page.consoleErrors.filter((e) => !/status of 400/.test(e)), []);
});

test("history finds finished jobs by name, status and text", async () => {
  const r = await api("POST", "/api/v1/queues/demo/jobs", {
    name: "demo-sync",
    payload: { duration_ms: 10, note: "needle-4711" },
  });
  const id = r.body.id;
  await eventually(async () => (await api("GET", `/api/v1/history?id=${id}`)).body.records?.length === 1, "the history record");

  const page = await adminPage("/history");
  await page.getByLabel("Text").fill("needle-4711");
  await page.getByLabel("Status").selectOption("completed");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForURL(/q=needle-4711/);
  await page.locator(`tr[data-job="${id}"]`).waitFor();
  assert.equal(await page.locator("table.history tbody tr").count(), 1);
  await stack.screenshot(page, "history");

  await page.goto(`${stack.baseUrl}/history?from=not-a-date`);
  await waitForHydration(page);
  await page.getByRole("alert").filter({ hasText: "from: expected a date" }).waitFor();
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("an admin adds, demotes and disables a user; the audit log records it", async () => {
  const page = await adminPage("/users");
  await page.getByLabel("Username").fill("olga");
  await page.getByLabel("Password").fill("olga-password");
  await page.getByLabel("Role", { exact: true }).selectOption("operator");
  await page.getByRole("button", { name: "Add user" }).click();
  const row = page.locator('tr[data-user="olga"]');
  await row.waitFor();
  assert.match(await row.textContent(), /active/);

  await page.getByLabel("Role of olga").selectOption("viewer");
  await row.getByRole("button", { name: "Change role" }).click();
  await eventually(async () => (await api("GET", "/api/v1/users")).body.find((u) => u.username === "olga")?.role === "viewer", "olga's new role");
  await page.getByRole("button", { name: "Disable olga" }).click();
  await page.getByRole("button", { name: "Enable olga" }).waitFor();

  // An end user may enqueue only what the admin lists for them here.
  await page.getByLabel("Username").fill("eve");
  await page.getByLabel("Password").fill("eve-password");
  await page.getByLabel("Role", { exact: true }).selectOption("user");
  await page.getByRole("button", { name: "Add user" }).click();
  const allowed = page.getByLabel("Jobs eve may enqueue (queue/job-name, comma-separated)");
  await allowed.fill("sync/sync-connection, demo/demo-sync");
  await page.locator('tr[data-user="eve"]').getByRole("button", { name: "Save" }).click();
  await eventually(async () => {
    const eve = (await api("GET", "/api/v1/users")).body.find((u) => u.username === "eve");
    return JSON.stringify(eve?.allowed_jobs) === JSON.stringify({ demo: ["demo-sync"], sync: ["sync-connection"] });
  }, "eve's allowed jobs");
  await stack.screenshot(page, "users");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");

  // Admins cannot lock themselves out (the refused call shows as a failed request).
  await page.getByRole("button", { name: "Disable admin" }).click();
  await page.getByRole("alert").filter({ hasText: "cannot disable or demote themselves" }).waitFor();

  await page.getByRole("link", { name: "Audit log" }).click();
  await page.waitForURL(`${stack.baseUrl}/audit`);
  await waitForHydration(page);
  await page.locator("table.audit td", { hasText: "user.add" }).first().waitFor();
  assert.ok((await page.locator("table.audit td", { hasText: "user.change" }).count()) >= 2);
  await stack.screenshot(page, "audit");
});

test("each role sees only the pages it can use", async () => {
  assert.equal((await api("POST", "/api/v1/users", { username: "vic", password: "vic-password", role: "viewer" })).status, 201);
  assert.equal((await api("POST", "/api/v1/users", { username: "ulla", password: "ulla-password", role: "user" })).status, 201);
  const links = async (user, password) => {
    const page = await stack.newPage();
    await signIn(stack, page, user, password);
    await waitForHydration(page);
    return page.locator('nav[aria-label="Main"] a').allTextContents();
  };
  assert.deepEqual(await links("admin", ADMIN_PASSWORD), [
    "Overview", "Dead letters", "Schedules", "Processes", "Alerts", "History", "Search", "My jobs", "Reports", "Audit log", "Users", "Status",
  ]);
  assert.deepEqual(
    await links("vic", "vic-password"),
    ["Overview", "Dead letters", "Schedules", "Processes", "Alerts", "History", "Search", "My jobs", "Status"],
  );
  assert.deepEqual(await links("ulla", "ulla-password"), ["Search", "My jobs", "Status"]);

  // And the pages refuse them even when typed in.
  const page = await stack.newPage();
  await signIn(stack, page, "vic", "vic-password");
  await page.goto(`${stack.baseUrl}/users`);
  await waitForHydration(page);
  await page.getByRole("alert").filter({ hasText: "admin role" }).waitFor();
});

test("the overview draws processed and failed per minute", async () => {
  const page = await adminPage("/");
  const card = page.locator('article.card[data-queue="demo"]');
  await card.waitFor();
  const processed = Number(await card.locator('[data-total="processed"]').textContent());
  const failed = Number(await card.locator('[data-total="failed"]').textContent());
  // Earlier tests in this file completed at least 4 demo jobs and failed 3.
  assert.ok(processed >= 4, `processed ${processed}`);
  assert.ok(failed >= 3, `failed ${failed}`);
  assert.ok((await card.locator(".minute-chart.processed rect").count()) >= 1);
  assert.match(await card.locator(".minute-chart.processed svg").getAttribute("aria-label"), /Processed, last hour/);
  // How long the completed demo jobs waited and ran (they run for 10–200 ms).
  assert.match(await card.locator('[data-timing="run"]').textContent(), /^\d+(\.\d)? (ms|s) \/ \d+(\.\d)? (ms|s)$/);
  assert.match(await card.locator('[data-timing="wait"]').textContent(), /^\d+(\.\d)? (ms|s) \/ /);
  assert.match(await card.locator(".minute-chart.backlog svg").getAttribute("aria-label"), /^Waiting over the last hour: now \d+/);

  // The whole system: at least what the demo card counts, for the hour and the day.
  const chart = page.locator(".throughput-chart");
  const total = async () => Number((await chart.locator('[data-total="completed"]').textContent()).replaceAll(",", ""));
  assert.ok((await total()) >= processed, `system ${await total()} >= demo ${processed}`);
  assert.match(await chart.locator("svg").getAttribute("aria-label"), /in the last hour; at most \d+ in one minute$/);
  await stack.screenshot(page, "overview-charts");
  await page.getByRole("link", { name: "Last day" }).click();
  await page.waitForURL(/span=day/);
  await page.waitForFunction(() => /the last day/.test(document.querySelector(".throughput-chart svg")?.getAttribute("aria-label") ?? ""));
  const bars = await chart.locator("svg g").count();
  assert.ok(bars >= 1 && bars <= 144, `ten-minute bars: ${bars}`);
  assert.match(await chart.locator(".axis").textContent(), /24 h ago.*\/ 10 minutes.*now/);
  assert.ok((await total()) >= processed);
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("read-only pages are complete without JavaScript", async () => {
  const login = await fetch(`${stack.baseUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  const [name, value] = login.headers.get("set-cookie").split(";")[0].split("=");
  const page = await stack.newPage({ javaScriptEnabled: false });
  await page.context().addCookies([{ name, value, url: stack.baseUrl }]);
  for (const [path, text] of [
    ["/", "online"],
    ["/queues/demo?state=completed", "demo-sync"],
    ["/schedules", "categorize-transactions"],
    ["/history?status=completed", "demo-sync"],
    ["/audit", "user.add"],
  ]) {
    await page.goto(`${stack.baseUrl}${path}`);
    const body = await page.locator("main").textContent();
    assert.ok(body.includes(text), `${path} shows ${text} without JavaScript`);
    assert.ok(!body.includes("Loading…"), `${path} is not left loading`);
  }
});

test("the processes page lists every process live; quiet and stop reach a real worker", async () => {
  // A `hoist worker` beside the server, on its Redis and database.
  const port = 20000 + Math.floor(Math.random() * 20000);
  const worker = spawn(stack.bin, ["worker"], {
    env: { ...process.env, ...stack.serverEnv, HOIST_PROCESSORS: "all", HOIST_WORKER_ADDR: `127.0.0.1:${port}`, RUST_LOG: "warn" },
    stdio: "ignore",
  });
  let exited = null;
  worker.on("exit", (code) => (exited = code));
  try {
    const page = await adminPage("/processes");
    // Live: the worker appears without a reload, beside the server.
    const row = page.locator(`tr[data-process][data-state="running"]`, { hasText: ` · ${worker.pid}` });
    await row.waitFor({ timeout: 20000 });
    assert.match(await row.textContent(), /worker · /);
    assert.match(await page.locator("tr[data-process]", { hasText: "serve · " }).textContent(), /scheduler/);
    // The server this page came from is marked; the worker is not.
    assert.equal(await page.locator("tr[data-process]", { hasText: "serve · " }).locator("[data-this-server]").textContent(), "this server");
    assert.equal(await row.locator("[data-this-server]").count(), 0);
    // A long job shows under the process that runs it, with its name and start.
    const r = await api("POST", "/api/v1/queues/demo/jobs", { name: "demo-sync", payload: { duration_ms: 15000 } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await page.locator(`[data-process-job="${r.body.id}"]`).waitFor({ timeout: 20000 });
    await page.locator("li[data-process-queue=demo]", { hasText: "1 running of" }).first().waitFor();

    // An operator may stop the worker, not the server (a replica of the dashboard).
    const made = await api("POST", "/api/v1/users", { username: "proc-operator", password: "proc-operator-pw", role: "operator" });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const operator = await stack.newPage();
    await signIn(stack, operator, "proc-operator", "proc-operator-pw");
    await operator.goto(`${stack.baseUrl}/processes`);
    await waitForHydration(operator);
    const serveRow = operator.locator("tr[data-process]", { hasText: "serve · " });
    await serveRow.getByRole("button", { name: /^Quiet/ }).waitFor();
    assert.equal(await serveRow.getByText("Stop…").count(), 0, "no Stop of the server for an operator");
    assert.equal(await operator.locator("tr[data-process]", { hasText: ` · ${worker.pid}` }).getByText("Stop…").count(), 1);
    assert.equal(await page.locator("tr[data-process]", { hasText: "serve · " }).getByText("Stop…").count(), 1, "an admin may");

    await row.getByRole("button", { name: /^Quiet/ }).click();
    const quiet = page.locator(`tr[data-process][data-state="quiet"]`, { hasText: ` · ${worker.pid}` });
    await quiet.waitFor({ timeout: 10000 });
    assert.equal(await quiet.getByRole("button", { name: /^Quiet/ }).count(), 0, "no Quiet for a quiet process");
    await quiet.getByText("Stop…").click();
    await quiet.getByRole("button", { name: /^Stop .+ · \d+$/ }).click();
    await eventually(() => exited !== null, "the worker to exit", 30000);
    assert.equal(exited, 0, "a graceful exit");
    await page.locator(`tr[data-process][data-state="stopped"]`, { hasText: ` · ${worker.pid}` }).waitFor({ timeout: 10000 });
    await stack.screenshot(page, "processes");
    const audit = await api("GET", "/api/v1/audit");
    const actions = audit.body.map((e) => e.action);
    assert.ok(actions.includes("process.quiet") && actions.includes("process.stop"), JSON.stringify(actions));
    assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
  } finally {
    if (exited === null) worker.kill("SIGKILL");
  }
});
