// Every page at desktop and phone width, light and dark, saved in end2end/artifacts/ as
// `page-<name>-<desktop|phone>-<light|dark>.png` for a person to look at. Each must also
// keep its content inside the screen's width (wide tables scroll inside their box) and
// pass the accessibility checks in that theme.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_PASSWORD, apiSession, signIn, sleep, startStack, waitForHydration } from "../support/harness.mjs";
import { axeViolations } from "../support/axe.mjs";

let stack;
let jobPath;
before(async () => {
  stack = await startStack({ args: ["--demo"], env: { HOIST_DEMO_PROVIDER_FAULT_RATE: "0.000001" } });
  const api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  const job = await api("POST", "/api/v1/queues/demo/jobs", { name: "demo-sync", payload: { duration_ms: 20 } });
  jobPath = `/queues/demo/jobs/${job.body.id}`;
  await sleep(3000); // a few demo jobs run, so charts and tables have something in them
});
after(async () => {
  await stack?.stop();
});

const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

for (const [size, viewport] of Object.entries(SIZES)) {
  for (const colorScheme of ["light", "dark"]) {
    test(`every page at ${size} width in ${colorScheme} mode`, async () => {
      const signedOut = await stack.newPage({ viewport, colorScheme });
      await signedOut.goto(`${stack.baseUrl}/login`);
      await waitForHydration(signedOut);
      await check(signedOut, "login", size, colorScheme);

      const admin = await stack.newPage({ viewport, colorScheme });
      await signIn(stack, admin, "admin", ADMIN_PASSWORD);
      for (const [name, path] of [
        ["overview", "/"],
        ["queue", "/queues/demo?state=completed"],
        ["job", jobPath],
        ["dead-letters", "/dead"],
        ["schedules", "/schedules"],
        ["processes", "/processes"],
        ["alerts", "/alerts"],
        ["history", "/history"],
        ["search", "/search?q=name:demo-sync"],
        ["audit", "/audit"],
        ["users", "/users"],
        ["status", "/status"],
      ]) {
        await admin.goto(`${stack.baseUrl}${path}`);
        await waitForHydration(admin);
        await sleep(300);
        await check(admin, name, size, colorScheme);
      }
      const user = await stack.newPage({ viewport, colorScheme });
      await signIn(stack, user, "demo", "demo-password");
      await waitForHydration(user);
      await check(user, "my-jobs", size, colorScheme);
      for (const page of [signedOut, admin, user]) {
        assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
      }
    });
  }
}

async function check(page, name, size, colorScheme) {
  await stack.screenshot(page, `page-${name}-${size}-${colorScheme}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `${name}: nothing wider than the ${size} screen (${overflow} px over)`);
  assert.deepEqual(await axeViolations(page), [], `${name} (${size}, ${colorScheme}): no accessibility violations`);
}
