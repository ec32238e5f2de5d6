// The dashboard shell: rendered on the server, hydrated in the browser, interactive.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, waitForHydration } from "../support/harness.mjs";

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

test("server-rendered page is readable before any JavaScript runs", async () => {
  const res = await fetch(`${stack.baseUrl}/status`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /System status/);
  assert.match(html, /badge-healthy/);
  assert.match(html, /\/pkg\/[0-9a-f]{16}\/hoist\.js/, "links the hydration script of this build");
});

// The files a page loads are those built into this hoist (started away from any
// target/ folder, with no LEPTOS_SITE_ROOT): every link answers, under an address that
// changes with the build, so it can be cached for good.
test("the files the page links are built in, cacheable for good, and compressed", async () => {
  const html = await (await fetch(`${stack.baseUrl}/login`)).text();
  const links = [...html.matchAll(/(?:href|src)="(\/pkg\/[^"]+)"/g)].map((m) => m[1]);
  for (const ext of ["js", "wasm", "css"]) {
    assert.ok(links.some((l) => l.endsWith(`/hoist.${ext}`)), `the page links hoist.${ext}: ${links}`);
  }
  for (const link of new Set(links)) {
    const res = await fetch(`${stack.baseUrl}${link}`, { headers: { "accept-encoding": "gzip, br" } });
    assert.equal(res.status, 200, link);
    assert.match(res.headers.get("cache-control") ?? "", /immutable/, `${link} is cached for good`);
    assert.ok(res.headers.get("etag"), `${link} has an ETag`);
    assert.match(res.headers.get("content-encoding") ?? "", /^(br|gzip)$/, `${link} is compressed`);
    const again = await fetch(`${stack.baseUrl}${link}`, { headers: { "if-none-match": res.headers.get("etag") } });
    assert.equal(again.status, 304, `${link} revalidates`);
  }
  const icon = await fetch(`${stack.baseUrl}/favicon.svg`);
  assert.equal(icon.status, 200);
  assert.equal(icon.headers.get("content-type"), "image/svg+xml");
});

test("page hydrates and the theme toggle works and persists", async () => {
  const page = await stack.newPage();
  await page.goto(`${stack.baseUrl}/status`);
  await waitForHydration(page);

  const table = page.getByRole("table");
  await assert.doesNotReject(table.getByRole("cell", { name: "Redis", exact: true }).waitFor());
  assert.equal(await page.locator(".badge-healthy").count(), 1);

  const toggle = page.locator("button.theme-toggle");
  assert.equal(await toggle.getAttribute("data-theme-choice"), "system");
  await toggle.click();
  await page.waitForFunction(() => document.documentElement.dataset.theme === "dark");
  assert.equal(await toggle.textContent(), "Theme: dark");
  await stack.screenshot(page, "home-dark");

  // The choice survives a reload (kept in localStorage, applied after hydration).
  await page.reload();
  await waitForHydration(page);
  await page.waitForFunction(() => document.documentElement.dataset.theme === "dark");
  await toggle.click();
  await page.waitForFunction(() => document.documentElement.dataset.theme === "light");
  await stack.screenshot(page, "home-light");

  assert.deepEqual(page.consoleErrors, [], "no errors in the browser console");
});

test("unknown pages answer 404 with a way back", async () => {
  const page = await stack.newPage();
  const response = await page.goto(`${stack.baseUrl}/nowhere`);
  assert.equal(response.status(), 404);
  await waitForHydration(page);
  await assert.doesNotReject(page.getByRole("link", { name: "Back to the overview" }).waitFor());
});
