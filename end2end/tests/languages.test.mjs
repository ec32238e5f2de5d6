// The dashboard in English and in Mongolian: every page of every role, in each language,
// shows no message id (a text nobody translated would show as its id) and, in Mongolian,
// no English text of the dashboard's own; the language follows the browser's
// Accept-Language until the user picks one, which is stored with the user and follows
// them to another browser; dates are written the way ICU's CLDR data (Node's
// Intl.DateTimeFormat) writes them in each language.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_PASSWORD, apiSession, repoRoot, signIn, sleep, startStack, waitForHydration } from "../support/harness.mjs";

// Every message of a language: id → its text when it has no variables or variants, else null.
function messages(language) {
  const dir = join(repoRoot, "app", "locales", language);
  const all = new Map();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ftl"))) {
    let id = null;
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      const entry = /^([a-z][a-z0-9-]*)\s*=\s*(.*)$/.exec(line);
      if (entry) {
        id = entry[1];
        const value = entry[2].trim();
        all.set(id, value === "" || value.includes("{") ? null : value);
      } else if (id && /^\s+\S/.test(line)) {
        all.set(id, null); // a message over several lines (variants): not compared as text
      }
    }
  }
  return all;
}

const EN = messages("en");
const MN = messages("mn");
// English texts that Mongolian says differently: seen on a Mongolian page, they were left
// untranslated. (Short words such as "p50" or "ID" read the same in both.)
const ENGLISH_ONLY = new Set(
  [...EN].filter(([id, text]) => text && MN.get(id) !== text && /[a-z]{3}/i.test(text)).map(([, text]) => text),
);

let stack;
let jobPath;
before(async () => {
  stack = await startStack({ args: ["--demo"], env: { HOIST_DEMO_PROVIDER_FAULT_RATE: "0.000001" } });
  const api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  const job = await api("POST", "/api/v1/queues/demo/jobs", { name: "demo-sync", payload: { duration_ms: 20 } });
  assert.equal(job.status, 202, JSON.stringify(job.body));
  jobPath = `/queues/demo/jobs/${job.body.id}`;
});
after(async () => {
  await stack?.stop();
});

// What a person reads or hears on the page: text nodes and the attributes screen readers
// and tooltips use; data the page shows (payloads, logs, curl) is left out.
async function visibleTexts(page) {
  return page.evaluate(() => {
    const texts = [];
    // translate="no" marks data (a username, a queue's name), as it does for translation tools.
    const skip = (el) => el.closest('pre, code, script, style, textarea, [translate="no"]');
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      if (text && !skip(node.parentElement)) texts.push(text);
    }
    for (const el of document.body.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
      if (skip(el)) continue;
      for (const name of ["aria-label", "title", "placeholder", "alt"]) {
        const value = el.getAttribute(name)?.trim();
        if (value) texts.push(value);
      }
    }
    return texts;
  });
}

async function checkPage(page, path, language) {
  await page.goto(`${stack.baseUrl}${path}`);
  await waitForHydration(page);
  await sleep(300);
  assert.equal(await page.evaluate(() => document.documentElement.lang), language, `${path}: <html lang>`);
  const texts = await visibleTexts(page);
  const ids = texts.flatMap((text) => text.split(/\s+/)).filter((word) => EN.has(word.replace(/[.,:;]$/, "")));
  assert.deepEqual(ids, [], `${path} (${language}): message ids shown instead of text`);
  if (language === "mn") {
    // Any English of the dashboard's own: a message left untranslated, or words written
    // into the code rather than the message files (two Latin words in a row, with no
    // Mongolian around them; a Mongolian label may name data, "Засах: Khan Bank").
    const latinOnly = (text) => /[A-Za-z]{3,}[ ,]+[A-Za-z]{3,}/.test(text) && !/[А-Яа-яӨөҮү]/.test(text);
    const english = texts.filter((text) => ENGLISH_ONLY.has(text) || latinOnly(text));
    assert.deepEqual(english, [], `${path}: English left on the Mongolian page`);
    assert.ok(texts.some((text) => /[А-Яа-яӨөҮү]/.test(text)), `${path}: the page is in Mongolian`);
  }
  assert.deepEqual(page.consoleErrors, [], `${path} (${language}): no errors in the browser console`);
  // Mongolian words run longer than English ones: the page still fits the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `${path} (${language}): nothing wider than the screen (${overflow} px over)`);
  const name = path === "/" ? "overview" : path.split("/").filter(Boolean).slice(0, 2).join("-").replace(/[^a-z0-9-]/gi, "");
  await stack.screenshot(page, `lang-${language}-${name}-${page.viewportSize().width}`);
}

// English at desktop width, Mongolian at phone width (where longer words hurt most).
const VIEWPORTS = { en: { width: 1280, height: 800 }, mn: { width: 390, height: 844 } };
const STAFF_PAGES = ["/", "/dead", "/schedules", "/processes", "/alerts", "/history", "/search", "/me", "/status", "/queues/demo", "/audit", "/users"];

for (const language of ["en", "mn"]) {
  test(`every page reads in ${language === "en" ? "English" : "Mongolian"}, for staff and end users`, async () => {
    // The browser asks for the language; nobody has chosen one yet.
    const browserLocale = language === "en" ? "en-US" : "mn-MN";
    const context = { locale: browserLocale, viewport: VIEWPORTS[language] };
    const signedOut = await stack.newPage(context);
    await checkPage(signedOut, "/login", language);

    const admin = await stack.newPage(context);
    await signInAs(admin, "admin", ADMIN_PASSWORD);
    for (const path of [...STAFF_PAGES, jobPath]) await checkPage(admin, path, language);
    // The keyboard help is text too.
    await admin.keyboard.press("?");
    await admin.locator(".shortcuts-overlay:not([hidden])").waitFor();
    const help = await visibleTexts(admin);
    if (language === "mn") assert.deepEqual(help.filter((t) => ENGLISH_ONLY.has(t)), [], "keyboard help in Mongolian");

    const user = await stack.newPage(context);
    await signInAs(user, "demo", "demo-password");
    for (const path of ["/me", "/search", "/status"]) await checkPage(user, path, language);
  });
}

// Signs in through the form in whatever language it is in.
async function signInAs(page, username, password) {
  await page.goto(`${stack.baseUrl}/login`);
  await waitForHydration(page);
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(password);
  await page.locator('form[aria-label] button[type="submit"]').last().click();
  await page.waitForURL((url) => !url.pathname.endsWith("/login"));
  await waitForHydration(page);
}

test("a user's chosen language is stored with them and follows them to another browser", async () => {
  const api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  const created = await api("POST", "/api/v1/users", { username: "bat", password: "bat-password", role: "viewer" });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  // An English browser: the page is English until Bat picks Монгол.
  const page = await stack.newPage({ locale: "en-US" });
  assert.equal(await signIn(stack, page, "bat", "bat-password"), "/");
  assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
  await page.getByRole("button", { name: "Монгол" }).click();
  await page.waitForFunction(() => document.documentElement.lang === "mn");
  await waitForHydration(page);
  assert.equal(await page.locator("nav a").first().textContent(), "Тойм");
  // And back.
  await page.getByRole("button", { name: "English" }).click();
  await page.waitForFunction(() => document.documentElement.lang === "en");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Монгол" }).click();
  await page.waitForFunction(() => document.documentElement.lang === "mn");

  // Another browser, which prefers English: signing in brings Bat's Mongolian with him.
  const elsewhere = await stack.newPage({ locale: "en-US" });
  await elsewhere.goto(`${stack.baseUrl}/login`);
  await waitForHydration(elsewhere);
  assert.equal(await elsewhere.evaluate(() => document.documentElement.lang), "en");
  await signInAs(elsewhere, "bat", "bat-password");
  assert.equal(await elsewhere.evaluate(() => document.documentElement.lang), "mn");
  assert.match(await elsewhere.locator("h1").first().textContent(), /[А-Яа-яӨөҮү]/);

  // The REST API reads and sets the same choice, and refuses a language it does not have.
  const bat = await apiSession(stack.baseUrl, "bat", "bat-password");
  assert.deepEqual((await bat("GET", "/api/v1/auth/me/language")).body, { language: "mn" });
  const refused = await bat("PUT", "/api/v1/auth/me/language", { language: "fr" });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.field, "language");
  const empty = await bat("PUT", "/api/v1/auth/me/language", {});
  assert.equal(empty.status, 400, "an empty body does not clear the choice");
  assert.equal(empty.body.error.field, "language");

  // Changed elsewhere (here over the API): the first browser, still holding its `mn`
  // cookie, gets the new choice on its next page, rendered once, and the cookie follows.
  assert.equal((await bat("PUT", "/api/v1/auth/me/language", { language: "en" })).status, 200);
  await page.reload();
  await waitForHydration(page);
  assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
  const cookies = await page.context().cookies();
  assert.equal(cookies.find((c) => c.name === "hoist_lang")?.value, "en");

  assert.equal((await bat("PUT", "/api/v1/auth/me/language", { language: null })).status, 200);
  assert.deepEqual((await bat("GET", "/api/v1/auth/me/language")).body, { language: null });
});

test("dates are written as ICU's CLDR data writes them in each language", async () => {
  for (const [locale, language] of [["en-US", "en"], ["mn-MN", "mn"]]) {
    const page = await stack.newPage({ locale });
    await signInAs(page, "admin", ADMIN_PASSWORD);
    await page.goto(`${stack.baseUrl}${jobPath}`);
    await waitForHydration(page);
    // Chromium carries only part of CLDR (its Mongolian dates read "2026 M12 7"); Node's
    // full ICU is the reference.
    const cldr = new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC", hourCycle: "h23" });
    const times = (
      await page.locator("time[datetime][title]").evaluateAll((els) => els.map((el) => [el.getAttribute("datetime"), el.getAttribute("title")]))
    ).map(([datetime, ours]) => ({ ours, cldr: `${cldr.format(new Date(datetime))} UTC` }));
    assert.ok(times.length > 0, "the job page shows times");
    for (const { ours, cldr } of times) assert.equal(ours, cldr, `${language}: ${ours}`);
  }
});
