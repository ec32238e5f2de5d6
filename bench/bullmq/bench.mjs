// Workload W1 on BullMQ: 100-byte JSON payloads, a no-op processor, one worker with
// concurrency 50, the last 1000 completed jobs kept. Prints one JSON line of figures.
// Usage: node bench.mjs [redis-url] [jobs] [--process-only]

import { Queue, Worker } from "bullmq";

const url = new URL(process.argv[2] ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const jobs = Number(process.argv[3] ?? 50000);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const payload = { data: "x".repeat(89) };
const name = "bullmq-w1";

const queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: 1000 } });
await queue.obliterate({ force: true });

// --process-only (for hoist-redis-cost): enqueue the backlog, say "ready", process it when
// a line arrives on stdin, say "done".
if (process.argv[4] === "--process-only") {
  for (let i = 0; i < jobs; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, () => ({ name: "w1", data: payload })));
  }
  console.log("ready");
  await new Promise((r) => process.stdin.once("data", r));
  let done = 0;
  let finish;
  const allDone = new Promise((r) => (finish = r));
  const worker = new Worker(name, async () => null, { connection, concurrency: 50 });
  worker.on("completed", () => {
    if (++done === jobs) finish();
  });
  await allDone;
  await worker.close();
  console.log("done");
  await queue.close();
  process.exit(0);
}

// Single adds, 64 in flight.
let t = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: 64 }, async () => {
    while (next < jobs) {
      next++;
      await queue.add("w1", payload);
    }
  }),
);
const enqueue_single_per_s = jobs / ((performance.now() - t) / 1000);
await queue.obliterate({ force: true });

// Bulk adds, 1000 per call.
t = performance.now();
for (let i = 0; i < jobs; i += 1000) {
  await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, () => ({ name: "w1", data: payload })));
}
const enqueue_bulk_per_s = jobs / ((performance.now() - t) / 1000);

// Process the backlog.
let done = 0;
let finish;
const allDone = new Promise((r) => (finish = r));
t = performance.now();
const worker = new Worker(name, async () => null, { connection, concurrency: 50 });
worker.on("completed", () => {
  if (++done === jobs) finish();
});
await allDone;
const process_per_s = jobs / ((performance.now() - t) / 1000);
await worker.close();
await queue.obliterate({ force: true });
await queue.close();

console.log(JSON.stringify({
  system: "bullmq",
  version: (await import("bullmq/package.json", { with: { type: "json" } })).default.version,
  jobs,
  enqueue_single_per_s: Math.round(enqueue_single_per_s),
  enqueue_bulk_per_s: Math.round(enqueue_bulk_per_s),
  process_per_s: Math.round(process_per_s),
}));
process.exit(0);
