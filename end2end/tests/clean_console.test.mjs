// Every page each role has, opened as that role, hydrates with nothing in the browser
// console, no failed request (a refused live socket would show as both) and no axe-core
// violation (light and dark), and each role lands where its work is: staff on the
// overview, end users on My jobs, the signed out on the sign-in page.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, apiSession, signIn, sleep, startStack, waitForHydration } from "../support/harness.mjs";
import { axeViolations } from "../support/axe.mjs";

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

const STAFF_PAGES = ["/", "/dead", "/schedules", "/processes", "/alerts", "/history", "/search", "/me", "/status", "/queues/demo"];

// Opens each path as the signed-in page's user; fails naming the page and what went wrong.
async function visitAll(page, paths) {
  for (const path of paths) {
    await page.goto(`${stack.baseUrl}${path}`);
    await waitForHydration(page);
    // Long enough for the page's live socket to open, or be refused.
    await sleep(700);
    assert.deepEqual(page.consoleErrors, [], `${path}: no errors in the browser console`);
    assert.deepEqual(page.failedRequests, [], `${path}: no failed requests`);
    assert.deepEqual(await axeViolations(page), [], `${path}: no accessibility violations`);
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

test("every page passes the accessibility checks in dark mode too", async () => {
  const page = await stack.newPage({ colorScheme: "dark" });
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await visitAll(page, [...STAFF_PAGES, "/audit", "/users", jobPath]);
  const user = await stack.newPage({ colorScheme: "dark" });
  await signIn(stack, user, "demo", "demo-password");
  await visitAll(user, ["/me", "/search", "/status"]);
});

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

test("keyboard: `?` lists the shortcuts, `g` + a letter goes to a page, `/` to its search box", async () => {
  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await page.goto(`${stack.baseUrl}/schedules`);
  await waitForHydration(page);
  const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
  assert.equal(await help.isVisible(), false);
  await page.keyboard.press("?");
  await help.waitFor();
  // The dialog takes the focus, says what each key does, and Esc closes it.
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Close");
  assert.match(await help.textContent(), /Dead letters/);
  assert.deepEqual(await axeViolations(page), [], "the open dialog passes the accessibility checks");
  await page.keyboard.press("Escape");
  await help.waitFor({ state: "hidden" });

  await page.keyboard.press("g");
  await page.keyboard.press("d");
  await page.waitForURL(`${stack.baseUrl}/dead`);
  await waitForHydration(page);
  await page.keyboard.press("/");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "queue-filter");
  // Typed into a field, the same keys are text.
  await page.keyboard.type("gs?");
  assert.equal(await page.locator("#queue-filter").inputValue(), "gs?");
  assert.equal(new URL(page.url()).pathname, "/dead");
  assert.equal(await help.isVisible(), false);

  // Everything focusable shows its focus: the first Tab reaches the skip link.
  await page.locator("body").click({ position: { x: 5, y: 300 } });
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    return { text: el.textContent, outline: style.outlineStyle, left: el.getBoundingClientRect().left };
  });
  assert.equal(focused.text, "Skip to content");
  assert.ok(focused.left >= 0, "on screen once focused");
  assert.notEqual(focused.outline, "none", "the focus shows");

  // An end user's list has only their pages.
  const user = await stack.newPage();
  await signIn(stack, user, "demo", "demo-password");
  await user.keyboard.press("?");
  const userHelp = user.getByRole("dialog", { name: "Keyboard shortcuts" });
  await userHelp.waitFor();
  assert.doesNotMatch(await userHelp.textContent(), /Dead letters/);
  assert.match(await userHelp.textContent(), /My jobs/);
  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
  assert.deepEqual(user.consoleErrors, [], "no errors in the end user's console");
});
