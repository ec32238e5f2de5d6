// Event-to-screen latency of the live dashboard: a browser shows the overview; this
// script enqueues one job at a time through the API and measures the time from sending
// the request until the queue's "waiting" count changes on the page (the job is in Redis
// before the request returns, so this is an upper bound). Uses the release server when
// HOIST_BIN points at it. Its last line is one JSON object of the figures.
// Usage: node end2end/bench/live-latency.mjs [samples]

import { ADMIN_PASSWORD, apiSession, signIn, startStack, waitForHydration } from "../support/harness.mjs";

const samples = Number(process.argv[2] ?? 40);
const stack = await startStack();
try {
  const api = await apiSession(stack.baseUrl, "admin", ADMIN_PASSWORD);
  const queue = "latency-probe";
  // The queue must exist (have a job) to get a card; nothing works on it.
  await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "probe", payload: {} });
  const page = await stack.newPage();
  await signIn(stack, page, "admin", ADMIN_PASSWORD);
  await waitForHydration(page);
  await page.locator('.live-state[data-live="live"]').waitFor();
  const selector = `article[data-queue="${queue}"] dd[data-count="waiting"]`;
  await page.locator(selector).waitFor();

  const latencies = [];
  for (let i = 0; i < samples; i++) {
    const before = Number(await page.locator(selector).textContent());
    // Resolves in the page with the wall-clock time the number changed.
    const changed = page.evaluate(
      ([sel, from]) =>
        new Promise((resolve) => {
          const node = document.querySelector(sel);
          const observer = new MutationObserver(() => {
            if (Number(node.textContent) !== from) {
              observer.disconnect();
              resolve(Date.now());
            }
          });
          observer.observe(node, { childList: true, characterData: true, subtree: true });
        }),
      [selector, before],
    );
    const sent = Date.now();
    const r = await api("POST", `/api/v1/queues/${queue}/jobs`, { name: "probe", payload: { i } });
    if (r.status !== 202) throw new Error(`enqueue failed: ${r.status}`);
    latencies.push((await changed) - sent);
    await new Promise((res) => setTimeout(res, 300));
  }
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.round((p / 100) * (latencies.length - 1)))];
  console.log(`event to screen over ${samples} samples: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1)} ms`);
  console.log(JSON.stringify({ samples, event_to_screen_p50_ms: pct(50), event_to_screen_p99_ms: pct(99) }));
} finally {
  await stack.stop();
}
