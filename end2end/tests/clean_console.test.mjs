// Every page each role has, opened as that role, hydrates with nothing in the browser
// console and no failed request (a refused live socket would show as both), and each
// role lands where its work is: staff on the overview, end users on My jobs, the signed
// out on the sign-in page.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, apiSession, signIn, sleep, startStack, waitForHydration } from "../support/harness.mjs";

let stack;
let jobPath;
before(async () => {
  // Demo mode: the `demo` end user with connections, schedules, jobs at work.
  stack = await startStack({ args: ["--demo"], env: { HOIST_DEMO_PROVIDER_FAULT_RATE: "0.000001" } });
  const api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  for (const [username, role] of [["otto", "operator"], ["vic", "viewer"]]) {
    const created = await api("POST", "/api/v1/users", { username, password: `${username}-password`, role });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  const job = await api("POST", "/api/v1/queues/demo/jobs", { name: "demo-sync", payload: { duration_ms: 20 } });
  assert.equal(job.status, 202, JSON.stringify(job.body));
  jobPath = `/queues/demo/jobs/${job.body.id}`;
});
after(async () => {
  await stack?.stop();
});

const STAFF_PAGES = ["/", "/dead", "/schedules", "/history", "/search", "/me", "/status", "/queues/demo"];

// Opens each path as the signed-in page's user; fails naming the page and what went wrong.
async function visitAll(page, paths) {
  for (const path of paths) {
    await page.goto(`${stack.baseUrl}${path}`);
    await waitForHydration(page);
    // Long enough for the page's live socket to open, or be refused.
    await sleep(700);
    assert.deepEqual(page.consoleErrors, [], `${path}: no errors in the browser console`);
    assert.deepEqual(page.failedRequests, [], `${path}: no failed requests`);
  }
}

for (const [role, username, password, landing, extra] of [
  ["admin", "admin", ADMIN_PASSWORD, "/", ["/audit", "/users"]],
  ["operator", "otto", "otto-password", "/", []],
  ["viewer", "vic", "vic-password", "/", []],
]) {
  test(`every page of the ${role} role opens cleanly`, async () => {
    const page = await stack.newPage();
    assert.equal(await signIn(stack, page, username, password), landing, `${role} starts on the overview`);
    await visitAll(page, [...STAFF_PAGES, ...extra, jobPath]);
    // Staff do get the overview's live feed.
    await page.goto(`${stack.baseUrl}/`);
    await page.locator('.live-state[data-live="live"]').waitFor({ timeout: 10000 });
  });
}

test("an end user starts on My jobs, is sent back there from staff pages, and sees no errors", async () => {
  const page = await stack.newPage();
  assert.equal(await signIn(stack, page, "demo", "demo-password"), "/me");
  await visitAll(page, ["/me", "/search", "/status"]);
  for (const path of ["/", "/queues/demo", "/dead", "/schedules", "/history"]) {
    await page.goto(`${stack.baseUrl}${path}`);
    await waitForHydration(page);
    assert.equal(new URL(page.url()).pathname, "/me", `${path} is for staff`);
  }
  // The redirect is the server's: the staff page is never sent.
  const response = await fetch(`${stack.baseUrl}/`, {
    headers: {
      accept: "text/html",
      cookie: (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; "),
    },
    redirect: "manual",
  });
  assert.equal(response.status, 302);
  assert.equal(response.headers.get("location"), "/me");
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
  assert.deepEqual(page.failedRequests, [], "no failed requests");
});

test("signed out, pages that need a user send the visitor to sign in, before any socket opens", async () => {
  const page = await stack.newPage();
  await visitAll(page, ["/login", "/status"]);
  for (const path of ["/", "/me", "/queues/demo", jobPath, "/search"]) {
    await page.goto(`${stack.baseUrl}${path}`);
    await waitForHydration(page);
    assert.equal(new URL(page.url()).pathname, "/login", `${path} needs a user`);
  }
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
  assert.deepEqual(page.failedRequests, [], "no failed requests");
  // Signed in, the sign-in page has nothing to offer: on to the overview.
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.goto(`${stack.baseUrl}/login`);
  await waitForHydration(page);
  assert.equal(new URL(page.url()).pathname, "/");
});
