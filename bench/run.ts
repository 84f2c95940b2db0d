/**
 * `deno task bench`: one run, side by side on this machine.
 *  1. ingest: bare `Deno.serve` (reads the body, answers 200) vs the webhook endpoint with distinct,
 *     validly signed ~1 KB BOOKING_CREATED bodies (wrk -t1 -c32 when on PATH, else a built-in generator);
 *     both warmed up, then measured in alternating runs (bare, webhook, bare, webhook), each webhook run
 *     on a fresh service;
 *  2. processing: 10,000 accepted submissions → Jobs/Contacts vs a no-op listenQueue drain of 10,000 messages;
 *  3. webhook → Job visible through the admin API at a steady 500 requests/s;
 *  4. peak RSS of the service;
 *  5. cost: KV read and write units, atomics and bytes per webhook by trigger (and the change log's
 *     share), counted by wrapping a real KV (`lib/store/metered.ts`).
 * Prints a table and writes it as JSON under bench/results/. Not part of CI.
 */
import { createHmac } from "node:crypto";
import { readConfig } from "../lib/config.ts";
import { interpretBytes } from "../lib/calcom/normalize.ts";
import { createSubmission } from "../lib/domain/submission.ts";
import { jsonLogger } from "../lib/log.ts";
import { createService } from "../lib/service.ts";
import { clientGuard, putClient } from "../lib/store/clients.ts";
import { noPendingBatches } from "../lib/store/batches.ts";
import { countJobs, findJobIds } from "../lib/store/jobs.ts";
import { IngestBatcher } from "../lib/store/group_commit.ts";
import { openKv } from "../lib/store/kv.ts";
import { listenQueue, noopDrainRate } from "../lib/store/queue.ts";
import { changeLogCollections, outboundCollections } from "../lib/store/keys.ts";
import { countingReceiver, fillDisk, meteredService, sh, startMain, startTask } from "../tests/_helpers.ts";
import { storedBytes } from "../lib/store/metered.ts";

const DURATION_S = Number(Deno.env.get("BENCH_SECONDS") ?? 8);
const CONNECTIONS = 32;
const SECRET = "whsec_bench_secret_0123456789abcdef";
const ADMIN = "bench-admin-token";
const ROOT = new URL("..", import.meta.url).pathname;

function bookingBody(i: number, run: string): string {
  const email = `customer${i % 5000}@example.com`;
  return JSON.stringify({
    triggerEvent: "BOOKING_CREATED",
    createdAt: new Date(Date.UTC(2026, 9, 1) + i * 1000).toISOString(),
    payload: {
      type: "on-site-estimate",
      title: `On-site Estimate between Dana Whitfield and Customer ${i}`,
      description: "Free on-site estimate for plumbing repairs and installs.",
      startTime: "2026-10-14T16:00:00Z",
      endTime: "2026-10-14T17:00:00Z",
      organizer: {
        id: 4821,
        name: "Dana Whitfield",
        email: "dana@northpeak.example",
        timeZone: "America/Denver",
      },
      attendees: [{ email, name: `Customer ${i}`, timeZone: "America/Denver", language: { locale: "en" } }],
      responses: {
        name: { label: "your_name", value: `Customer ${i}` },
        email: { label: "email_address", value: email },
        attendeePhoneNumber: { label: "phone_number", value: "+13035550147" },
      },
      userFieldsResponses: { "job-type": { label: "What do you need help with?", value: "Water heater" } },
      location: "1287 Juniper Ridge Rd, Boulder, CO 80302",
      uid: `${run}-${i}`,
      bookingId: 900000 + i,
      iCalUID: `${run}-${i}@Cal.com`,
      eventTypeId: 73104,
      status: "ACCEPTED",
    },
  });
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never became healthy`);
}

interface Proc {
  url: string;
  child: Deno.ChildProcess;
  peakRssMb: () => Promise<number>;
  rssMb: () => Promise<number>;
  stop: () => Promise<void>;
}

async function spawn(args: string[], env: Record<string, string>, health: string): Promise<Proc> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { ...(args === SERVE_ARGS ? START.env : {}), ...env, PORT: String(port) },
    stdout: "null",
    stderr: "inherit",
    cwd: ROOT,
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(`${url}${health}`);
  return {
    url,
    child,
    peakRssMb: async () => {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
    },
    rssMb: async () => {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
    },
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  non_2xx: number;
}

const hasWrk =
  new Deno.Command("sh", { args: ["-c", "command -v wrk"], stdout: "null" }).outputSync().success;

const WRK_SCRIPT = `
local sigs, bodies, n, i = {}, {}, 0, 0
init = function(args)
  i = tonumber(args[2] or "0")
  for line in io.lines(args[1]) do
    local tab = line:find("\\t")
    n = n + 1
    sigs[n] = line:sub(1, tab - 1)
    bodies[n] = line:sub(tab + 1)
  end
end
request = function()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("POST", nil, { ["X-Cal-Signature-256"] = sigs[i], ["Content-Type"] = "application/json" }, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format("JSON{\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,\\"non_2xx\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))
end
`;

/** Signed bodies for a load run, written once to a file `wrk` reads (one `signature<TAB>body` per line). */
interface Corpus {
  entries: string[][];
  dir: string;
  file: string;
}

async function writeCorpus(entries: string[][]): Promise<Corpus> {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/bodies.tsv`;
  await Deno.writeTextFile(`${dir}/post.lua`, WRK_SCRIPT);
  await Deno.writeTextFile(file, entries.map(([sig, body]) => `${sig}\t${body}`).join("\n") + "\n");
  return { entries, dir, file };
}

/** Sends the corpus from entry `offset` on (wrapping around) for `seconds`, over CONNECTIONS connections. */
async function load(url: string, corpus: Corpus, offset: number, seconds: number): Promise<LoadResult> {
  if (hasWrk) {
    const out = await new Deno.Command("wrk", {
      args: [
        "-t1",
        `-c${CONNECTIONS}`,
        `-d${seconds}s`,
        "-s",
        `${corpus.dir}/post.lua`,
        url,
        "--",
        corpus.file,
        String(offset),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const summary = JSON.parse(/JSON(\{.*\})/.exec(text)![1]);
    return {
      rps: summary.requests / (summary.duration_us / 1e6),
      p50_ms: summary.p50_us / 1000,
      p99_ms: summary.p99_us / 1000,
      requests: summary.requests,
      non_2xx: summary.non_2xx,
    };
  }
  // Built-in generator: CONNECTIONS concurrent loops of fetch.
  const latencies: number[] = [];
  let nonOk = 0;
  let next = offset;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) {
      const [sig, body] = corpus.entries[next++ % corpus.entries.length];
      const t = performance.now();
      const res = await fetch(url, { method: "POST", headers: { "x-cal-signature-256": sig }, body });
      await res.body?.cancel();
      latencies.push(performance.now() - t);
      if (!res.ok) nonOk++;
    }
  }));
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / ((performance.now() - started) / 1000),
    p50_ms: latencies[Math.floor(latencies.length * 0.5)],
    p99_ms: latencies[Math.floor(latencies.length * 0.99)],
    requests: latencies.length,
    non_2xx: nonOk,
  };
}

/** Bodies signed with the bench client's secret (synchronously: WebCrypto promises for a corpus this size take gigabytes). */
function signedCorpus(n: number, run: string): string[][] {
  return Array.from({ length: n }, (_, i) => {
    const body = bookingBody(i, run);
    return [createHmac("sha256", SECRET).update(body).digest("hex"), body];
  });
}

async function serviceEnv(dir: string): Promise<Record<string, string>> {
  const kvPath = `${dir}/kv.sqlite3`;
  const kv = await openKv(kvPath);
  await putClient(kv, "bench", { name: "Bench", secret: SECRET });
  kv.close();
  return { KV_PATH: kvPath, ADMIN_TOKEN: ADMIN, PROCESSING_MODE: "queue" };
}

/** The service runs exactly as `deno task start` runs it (flags included). */
const START = startTask();
const SERVE_ARGS: string[] = START.args;

/** Load runs per target, each DURATION_S long; bare and webhook alternate, so a drift of the machine touches both alike. */
const ROUNDS = 2;
const WARM_UP_S = 1;

/** Sums alternating runs: requests over time; latencies are the mean of the runs' percentiles. */
function combine(runs: LoadResult[]): LoadResult {
  const requests = runs.reduce((sum, r) => sum + r.requests, 0);
  const seconds = runs.reduce((sum, r) => sum + r.requests / r.rps, 0);
  const mean = (pick: (r: LoadResult) => number) => runs.reduce((sum, r) => sum + pick(r), 0) / runs.length;
  return {
    rps: requests / seconds,
    p50_ms: mean((r) => r.p50_ms),
    p99_ms: mean((r) => r.p99_ms),
    requests,
    non_2xx: runs.reduce((sum, r) => sum + r.non_2xx, 0),
  };
}

/**
 * Waits (up to two minutes) until no batch of submissions is left unsettled, polling every `pollMs`:
 * the pending-batch records are exactly the work not yet done. False if some still is.
 */
async function noPendingBatchWithin(kv: Deno.Kv, pollMs: number): Promise<boolean> {
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    if (await noPendingBatches(kv)) return true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return false;
}

/** `noPendingBatchWithin`, read from the KV file of a service running in another process. */
async function processingCaughtUp(kvPath: string): Promise<boolean> {
  const kv = await openKv(kvPath);
  try {
    return await noPendingBatchWithin(kv, 100);
  } finally {
    kv.close();
  }
}

/** Webhook bodies per second of load a corpus is sized for (each request gets a body not sent before). */
const MAX_WEBHOOK_RPS = 25_000;

async function benchIngest() {
  const bare = await spawn(["run", "--allow-net", "--allow-env", "bench/bare_server.ts"], {}, "/");
  const bareRuns: LoadResult[] = [];
  const webhookRuns: LoadResult[] = [];
  let caughtUp = true;
  let rss = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // A fresh service each round, warmed up (JIT), then idle: the bare run shares the machine with it
    // exactly as the webhook run shares it with the bare server. Its queue messages come due 30 s
    // after their commit, after its run. Bare and webhook requests come from the same file.
    const corpus = await writeCorpus(
      signedCorpus((DURATION_S + WARM_UP_S) * MAX_WEBHOOK_RPS, `ingest${round}`),
    );
    const dir = await Deno.makeTempDir();
    const env = await serviceEnv(dir);
    const service = await spawn(SERVE_ARGS, env, "/healthz");
    const webhookUrl = `${service.url}/webhooks/calcom/bench`;
    await load(`${bare.url}/`, corpus, 0, WARM_UP_S);
    const warmUp = await load(webhookUrl, corpus, 0, WARM_UP_S);
    caughtUp &&= await processingCaughtUp(env.KV_PATH);
    bareRuns.push(await load(`${bare.url}/`, corpus, 0, DURATION_S));
    const run = await load(webhookUrl, corpus, warmUp.requests, DURATION_S);
    webhookRuns.push(run);
    if (warmUp.requests + run.requests > corpus.entries.length) {
      throw new Error("The corpus ran out (bodies were repeated): raise MAX_WEBHOOK_RPS.");
    }
    caughtUp &&= await processingCaughtUp(env.KV_PATH);
    rss = Math.max(rss, await service.peakRssMb());
    await service.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(corpus.dir, { recursive: true });
  }
  await bare.stop();
  const bareResult = combine(bareRuns);
  const webhook = combine(webhookRuns);
  return { bare: bareResult, webhook, ratio: webhook.rps / bareResult.rps, caught_up: caughtUp, rss };
}

async function benchProcessing(n = 10_000) {
  // No-op drain: n messages enqueued, then one listener that does nothing.
  const dir = await Deno.makeTempDir();
  const noopRate = await noopDrainRate(await openKv(`${dir}/noop.sqlite3`), n);

  // Processing: n submissions stored by the real intake (group commit, one message per batch) with no
  // listener yet; then the real queue handler drains them.
  const env = await serviceEnv(dir);
  const kv2 = await openKv(env.KV_PATH);
  const batcher = new IngestBatcher(kv2, { queue: { delayMs: 0 } });
  const corpus = signedCorpus(n, "proc");
  const guard = await clientGuard(kv2, "bench");
  await Promise.all(corpus.map(async ([, body]) => {
    const bytes = new TextEncoder().encode(body);
    const receivedAt = new Date().toISOString();
    const interpretation = interpretBytes(bytes, receivedAt);
    await batcher.ingest(
      createSubmission({ slug: "bench", body: bytes, secretId: "bench", receivedAt, interpretation }),
      guard,
    );
  }));
  const service = createService(kv2, readConfig((name) => env[name]), jsonLogger(() => {}));
  const t1 = performance.now();
  const listener2 = listenQueue(kv2, service.queueHandler);
  if (!(await noPendingBatchWithin(kv2, 5))) throw new Error("processing did not finish within two minutes");
  const processSeconds = (performance.now() - t1) / 1000;
  const jobs = await countJobs(kv2, "bench");
  kv2.close();
  await listener2;
  await Deno.remove(dir, { recursive: true });
  if (jobs !== n) throw new Error(`expected ${n} jobs, found ${jobs}`);
  return { noop_rate: noopRate, process_rate: n / processSeconds, ratio: (n / processSeconds) / noopRate };
}

/**
 * A minimal HTTP/1.1 client over a pool of keep-alive TCP connections, for the steady-rate run:
 * Deno's `fetch` costs the sending process a large share of a core at 500 requests/s, taken from
 * the two cores the service under test runs on (Cal.com's senders are not on the service's
 * machine). Requests are prebuilt bytes; answers are read as far as their status and body length.
 */
class RawPoster {
  #idle: RawConnection[] = [];
  #all: RawConnection[] = [];

  private constructor(
    private readonly hostname: string,
    private readonly port: number,
    private readonly path: string,
  ) {}

  /** Opens `connections` at once; more are opened whenever every one is waiting for an answer. */
  static async open(url: string, connections: number): Promise<RawPoster> {
    const { hostname, port, pathname } = new URL(url);
    const poster = new RawPoster(hostname, Number(port), pathname);
    for (let i = 0; i < connections; i++) poster.#idle.push(await poster.#connect());
    return poster;
  }

  request(signature: string, body: string): Uint8Array {
    const bytes = new TextEncoder().encode(body);
    const head = new TextEncoder().encode(
      `POST ${this.path} HTTP/1.1\r\nHost: ${this.hostname}:${this.port}\r\nContent-Type: application/json\r\n` +
        `X-Cal-Signature-256: ${signature}\r\nContent-Length: ${bytes.length}\r\n\r\n`,
    );
    const all = new Uint8Array(head.length + bytes.length);
    all.set(head);
    all.set(bytes, head.length);
    return all;
  }

  /** Sends prebuilt request bytes on an idle connection (a new one if none is); resolves with the status. */
  async post(request: Uint8Array): Promise<number> {
    const c = this.#idle.pop() ?? await this.#connect();
    try {
      return await c.exchange(request);
    } finally {
      this.#idle.push(c);
    }
  }

  async #connect(): Promise<RawConnection> {
    const c = new RawConnection(await Deno.connect({ hostname: this.hostname, port: this.port }));
    this.#all.push(c);
    return c;
  }

  close(): void {
    for (const c of this.#all) c.close();
  }
}

class RawConnection {
  #buffer = new Uint8Array(0);
  readonly #chunk = new Uint8Array(64 * 1024);

  constructor(private readonly conn: Deno.Conn) {}

  async exchange(request: Uint8Array): Promise<number> {
    for (let sent = 0; sent < request.length;) sent += await this.conn.write(request.subarray(sent));
    let headEnd: number;
    while ((headEnd = indexOfHeadEnd(this.#buffer)) < 0) await this.#fill();
    const head = new TextDecoder().decode(this.#buffer.subarray(0, headEnd));
    const status = Number(head.slice(9, 12));
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const total = headEnd + 4 + length;
    while (this.#buffer.length < total) await this.#fill();
    this.#buffer = this.#buffer.slice(total);
    return status;
  }

  async #fill(): Promise<void> {
    const n = await this.conn.read(this.#chunk);
    if (n === null) throw new Error("the service closed a keep-alive connection");
    const grown = new Uint8Array(this.#buffer.length + n);
    grown.set(this.#buffer);
    grown.set(this.#chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = grown;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/** Outstanding bookings the visibility watcher looks up per tick: the oldest ones, 10 per read. */
const WATCH_WINDOW = 50;
/** How often the watcher looks: what it adds to a latency is below this. */
const WATCH_TICK_MS = 5;

/**
 * Sends `corpus` at a steady `rate` and measures, for each booking, the time from sending it to
 * its Job being committed (the index the admin API reads). The watcher reads the service's KV file
 * directly every WATCH_TICK_MS, and only the WATCH_WINDOW oldest outstanding bookings each time:
 * the watcher and the sender share the service's two cores, so what they cost is kept small and
 * fixed however far processing falls behind (reading every outstanding booking every 2 ms made the
 * watcher itself the machine's largest load once a backlog formed). A booking that became visible
 * outside the window is seen when it enters it: measured late, never early.
 */
async function steadyVisibility(url: string, kvPath: string, corpus: string[][], run: string, rate: number) {
  const sentAt: number[] = [];
  const latencies: number[] = [];
  const outstanding = new Set<number>();
  let sending = true;
  const kv = await openKv(kvPath);
  const poller = (async () => {
    while (sending || outstanding.size > 0) {
      const tick = new Promise((r) => setTimeout(r, WATCH_TICK_MS));
      const ids = [...outstanding].slice(0, WATCH_WINDOW);
      for (let k = 0; k < ids.length; k += 10) {
        const batch = ids.slice(k, k + 10);
        const found = await findJobIds(kv, "bench", batch.map((i) => `${run}-${i}`));
        found.forEach((jobId, j) => {
          if (jobId === null) return;
          latencies.push(performance.now() - sentAt[batch[j]]);
          outstanding.delete(batch[j]);
        });
      }
      await tick;
    }
  })();
  await sendSteadily(url, corpus, rate, (i) => (sentAt[i] = performance.now()), (i) => outstanding.add(i));
  sending = false;
  await poller;
  kv.close();
  return latencies.sort((a, b) => a - b);
}

/**
 * Posts the signed corpus at a steady `rate` over keep-alive sockets with prebuilt requests; `sent`
 * is told just before each goes out, `answered` once it got its 202 (anything else throws).
 */
async function sendSteadily(
  url: string,
  corpus: string[][],
  rate: number,
  sent: (i: number) => void,
  answered: (i: number) => void,
): Promise<void> {
  const poster = await RawPoster.open(url, CONNECTIONS);
  const requests = corpus.map(([sig, body]) => poster.request(sig, body));
  const started = performance.now();
  try {
    await Promise.all(requests.map(async (request, i) => {
      const due = started + (i * 1000) / rate;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      sent(i);
      const status = await poster.post(request);
      if (status !== 202) throw new Error(`webhook answered ${status}`);
      answered(i);
    }));
  } finally {
    poster.close();
  }
}

async function benchVisibility(rate = 500, seconds = 10) {
  const dir = await Deno.makeTempDir();
  const env = await serviceEnv(dir);
  const service = await spawn(SERVE_ARGS, env, "/healthz");
  const url = `${service.url}/webhooks/calcom/bench`;
  // Warmed up like the ingest runs: the first second of a fresh process runs unoptimised code
  // (its latencies are reported apart), then the service catches up before the measured run.
  const cold = await steadyVisibility(url, env.KV_PATH, signedCorpus(rate * WARM_UP_S, "warm"), "warm", rate);
  if (!(await processingCaughtUp(env.KV_PATH))) throw new Error("the warm-up was not processed");
  const latencies = await steadyVisibility(
    url,
    env.KV_PATH,
    signedCorpus(rate * seconds, "visible"),
    "visible",
    rate,
  );
  const listed = await fetch(
    `${service.url}/admin/clients/bench/jobs?calcom_event_id=visible-${rate * seconds - 1}`,
    { headers: { authorization: `Bearer ${ADMIN}` } },
  );
  if ((await listed.json()).items.length !== 1) throw new Error("the admin API does not show the last Job");
  const rss = await service.peakRssMb();
  await service.stop();
  await Deno.remove(dir, { recursive: true });
  const at = (sorted: number[], q: number) => sorted[Math.floor(sorted.length * q)];
  return {
    p50_ms: at(latencies, 0.5),
    p99_ms: at(latencies, 0.99),
    cold_p50_ms: at(cold, 0.5),
    cold_p99_ms: at(cold, 0.99),
    rss,
  };
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/**
 * Webhook → delivered to a receiver, at a steady `rate` with one endpoint (a receiver in this
 * process answering 204), then again with a second endpoint that never answers beside it: the live
 * endpoint's delivery latency and the webhooks' answer latency, both times.
 */
async function benchOutbound(rate = 500, seconds = 10) {
  const arrived = new Map<string, number>();
  const live = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const payload = JSON.parse(await req.text());
    const uid = payload.data?.job?.calcom_event_id;
    if (uid && !arrived.has(uid)) arrived.set(uid, performance.now());
    return new Response(null, { status: 204 });
  });
  const hanging: (() => void)[] = [];
  const dead = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    await new Promise<void>((r) => hanging.push(r));
    return new Response(null, { status: 204 });
  });
  const dir = await Deno.makeTempDir();
  const env = { ...(await serviceEnv(dir)), OUTBOUND_ALLOW_PRIVATE: "true" };
  const service = await spawn(SERVE_ARGS, env, "/healthz");
  const addEndpoint = async (port: number) => {
    const res = await fetch(`${service.url}/admin/clients/bench/endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ url: `http://127.0.0.1:${port}/hook` }),
    });
    if (res.status !== 201) throw new Error(`endpoint: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
  };
  const at = (sorted: number[], q: number) => round(sorted[Math.floor(sorted.length * q)] ?? NaN, 1);
  // The feed's long-poll, followed in the same run: when each booking's entry reached a reader.
  const polled = new Map<string, number>();
  let cursor = "";
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const res = await fetch(
        `${service.url}/api/v1/clients/bench/changes?limit=500&wait=5${cursor ? `&cursor=${cursor}` : ""}`,
        { headers: { authorization: `Bearer ${ADMIN}` } },
      ).catch(() => null);
      if (!res || !res.ok) {
        await res?.body?.cancel();
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const page = await res.json() as {
        items: { data: { job: { calcom_event_id: string } | null } }[];
        next_cursor: string;
      };
      const now = performance.now();
      for (const e of page.items) {
        const uid = e.data.job?.calcom_event_id;
        if (uid && !polled.has(uid)) polled.set(uid, now);
      }
      cursor = encodeURIComponent(page.next_cursor);
    }
  })();
  const run = async (name: string) => {
    const corpus = signedCorpus(rate * seconds, name);
    const sentAt: number[] = [];
    const answers: number[] = [];
    await sendSteadily(
      `${service.url}/webhooks/calcom/bench`,
      corpus,
      rate,
      (i) => (sentAt[i] = performance.now()),
      (i) => answers.push(performance.now() - sentAt[i]),
    );
    const deadline = performance.now() + 120_000;
    while (corpus.some((_, i) => !arrived.has(`${name}-${i}`)) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const delivered = corpus.map((_, i) => (arrived.get(`${name}-${i}`) ?? NaN) - sentAt[i]).sort((a, b) =>
      a - b
    );
    answers.sort((a, b) => a - b);
    const longPoll = corpus.map((_, i) => (polled.get(`${name}-${i}`) ?? NaN) - sentAt[i]).sort((a, b) =>
      a - b
    );
    return {
      delivered_p50_ms: at(delivered, 0.5),
      delivered_p99_ms: at(delivered, 0.99),
      long_poll_p50_ms: at(longPoll, 0.5),
      long_poll_p99_ms: at(longPoll, 0.99),
      delivered_over_long_poll_p50: round(at(delivered, 0.5) / at(longPoll, 0.5), 2),
      answered_p50_ms: at(answers, 0.5),
      answered_p99_ms: at(answers, 0.99),
      all_delivered: corpus.every((_, i) => arrived.has(`${name}-${i}`)),
    };
  };
  await addEndpoint(live.addr.port);
  await run("outwarm");
  const one = await run("outone");
  await addEndpoint(dead.addr.port);
  const withDead = await run("outdead");
  polling = false;
  await poller;
  await service.stop();
  hanging.forEach((r) => r());
  await live.shutdown();
  await dead.shutdown();
  await Deno.remove(dir, { recursive: true });
  return { rate, one_endpoint: one, beside_a_dead_endpoint: withDead };
}

/**
 * KV units per webhook, by trigger: the fixtures' booking life (created → rescheduled → cancelled)
 * and a duplicate, through the real handler of a warm service (inline, so processing is counted
 * with its webhook).
 */
async function benchCost(withEndpoint = false) {
  const { kv, service, take, close } = await meteredService({ outboundAllowPrivate: true });
  await putClient(kv, "acme", { secret: SECRET });
  let delivered = 0;
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    delivered++;
    return new Response(null, { status: 204 });
  });
  if (withEndpoint) {
    await service.admins.cli.createEndpoint({
      slug: "acme",
      url: `http://127.0.0.1:${receiver.addr.port}/hook`,
    });
  }
  const rows: Record<string, unknown>[] = [];
  let storedBefore = 0;
  /** A fixture's name, or a body. */
  const send = async (label: string, name: string) => {
    const text = name.startsWith("{") ? name : await Deno.readTextFile(`${ROOT}tests/fixtures/${name}.json`);
    const body = JSON.stringify(JSON.parse(text));
    const res = await service.handler(
      new Request("http://bench/webhooks/calcom/acme", {
        method: "POST",
        headers: { "x-cal-signature-256": createHmac("sha256", SECRET).update(body).digest("hex") },
        body,
      }),
    );
    await res.body?.cancel();
    // With an endpoint, what its delivery of this webhook's change costs is counted with the webhook.
    const expected = delivered + (res.status === 202 && label !== "duplicate" ? 1 : 0);
    while (withEndpoint && delivered < expected) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    const c = take();
    const outbound = outboundCollections().reduce(
      (n, k) => n + (c.byCollection[k]?.writeUnits ?? 0),
      0,
    );
    const log = changeLogCollections().reduce((n, k) => n + (c.byCollection[k]?.writeUnits ?? 0), 0);
    // What stays stored (reading it all is not the webhook's cost: the meter is emptied after).
    const stored = await storedBytes(kv);
    take();
    const retained = stored - storedBefore;
    storedBefore = stored;
    rows.push({
      webhook: label,
      status: res.status,
      atomics: c.atomics,
      read_units: c.readUnits,
      write_units: c.writeUnits,
      change_log_write_units: log,
      outbound_write_units: outbound,
      bytes_written: c.bytesWritten,
      bytes_retained: retained,
      write_units_by_collection: Object.fromEntries(
        Object.entries(c.byCollection).map(([k, v]) => [k, v.writeUnits]),
      ),
    });
  };
  // A running service: its caches warm (signing keys, the client's webhook state) from an earlier
  // booking, and the minute's outbound tick has run (it learns which clients have endpoints).
  await send("warm-up", bookingBody(0, "cost-warm-up"));
  await service.outbound.runDue();
  await new Promise((r) => setTimeout(r, 50));
  rows.length = 0;
  storedBefore = await storedBytes(kv);
  take();
  await send("created", "booking_created");
  await send("rescheduled", "booking_rescheduled");
  await send("cancelled", "booking_cancelled");
  await send("duplicate", "booking_cancelled");
  await close();
  await receiver.shutdown();
  const life = rows.slice(0, 3);
  const sum = (k: string) => life.reduce((n, r) => n + (r[k] as number), 0);
  return {
    per_webhook: rows,
    booking_life: {
      write_units: sum("write_units"),
      change_log_write_units: sum("change_log_write_units"),
      outbound_write_units: sum("outbound_write_units"),
      read_units: sum("read_units"),
      bytes_retained: sum("bytes_retained"),
    },
  };
}

/**
 * What grows and what does not, in KV units: one idle minute's ticks (sweeper, outbound, reconcile)
 * with 1, 50 and 500 clients that each have a Cal.com API key (passes not due), the Clients list at
 * 500 clients, and a client's overview at 200 and at 100,000 Jobs (made by real webhooks). Cal.com
 * is a local server that answers every API call with nothing.
 */
async function benchScale() {
  const calcom = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ status: "success", data: [], pagination: { hasNextPage: false, totalItems: 0 } }),
  );
  const fresh = async () => {
    const { service, take, close } = await meteredService();
    const tick = async () => {
      await Promise.all([service.sweeper.sweepOnce(), service.outbound.runDue()]);
      await service.reconciler.runDue();
    };
    return { service, take, tick, close };
  };
  const post = async (service: ReturnType<typeof createService>, slug: string, uid: string) => {
    const body = JSON.stringify({
      triggerEvent: "BOOKING_CREATED",
      createdAt: "2026-10-02T21:14:07.352Z",
      payload: {
        uid,
        title: `Estimate ${uid}`,
        startTime: "2026-10-14T16:00:00Z",
        endTime: "2026-10-14T17:00:00Z",
        attendees: [{ email: `${uid}@example.org`, name: "Pat Example", timeZone: "America/Denver" }],
        organizer: { email: "owner@business.example", name: "Owner", timeZone: "America/Denver" },
        status: "ACCEPTED",
      },
    });
    const res = await service.handler(
      new Request(`http://bench/webhooks/calcom/${slug}`, {
        method: "POST",
        headers: { "x-cal-signature-256": createHmac("sha256", SECRET).update(body).digest("hex") },
        body,
      }),
    );
    await res.body?.cancel();
    if (res.status !== 202) throw new Error(`scale bench: webhook answered ${res.status}`);
  };
  const idle: Record<
    string,
    { read_units_per_minute: number; write_units_per_minute: number; per_hour: number }
  > = {};
  let list = { clients: 0, read_units: 0, per_client: 0 };
  for (const clients of [1, 50, 500]) {
    const { service, take, tick, close } = await fresh();
    for (let i = 0; i < clients; i++) {
      await service.admins.cli.createClient({
        slug: `c-${i}`,
        secret: SECRET,
        calcom_api_key: "cal_live_bench",
        calcom_api_url: `http://127.0.0.1:${calcom.addr.port}/v2`,
      });
    }
    // Every client's first pass (a tick takes up to 100 due clients), then a retention pass: the
    // minutes after that are idle.
    for (let i = 0; i * 100 < clients; i++) await tick();
    take();
    const minutes = 3;
    for (let i = 0; i < minutes; i++) await tick();
    const c = take();
    idle[`${clients}_clients`] = {
      read_units_per_minute: round(c.readUnits / minutes, 1),
      write_units_per_minute: round(c.writeUnits / minutes, 1),
      per_hour: round((c.readUnits + c.writeUnits) / minutes * 60, 0),
    };
    if (clients === 500) {
      await service.admins.api.listClients();
      const units = take().readUnits;
      list = { clients, read_units: units, per_client: round(units / clients, 2) };
    }
    await close();
  }
  // 500 clients with an outbound endpoint each, every one caught up: what the idle ticks cost then.
  let endpointsIdle = { endpoints: 0, read_units_per_minute: 0, write_units_per_minute: 0 };
  {
    const receiver = countingReceiver();
    const { service, take, close } = await meteredService({ outboundAllowPrivate: true });
    const tick = async () => {
      await Promise.all([service.sweeper.sweepOnce(), service.outbound.runDue()]);
      await service.reconciler.runDue();
      await service.outbound.settled();
    };
    const endpoints = 500;
    for (let i = 0; i < endpoints; i++) {
      await service.admins.cli.createClient({ slug: `e-${i}`, secret: SECRET });
      await service.admins.cli.createEndpoint({ slug: `e-${i}`, url: receiver.url });
      await post(service, `e-${i}`, `e-${i}-1`);
    }
    while (receiver.received() < endpoints) await new Promise((r) => setTimeout(r, 20));
    await tick();
    take();
    const minutes = 3;
    for (let i = 0; i < minutes; i++) await tick();
    const c = take();
    endpointsIdle = {
      endpoints,
      read_units_per_minute: round(c.readUnits / minutes, 1),
      write_units_per_minute: round(c.writeUnits / minutes, 1),
    };
    await close();
    await receiver.close();
  }
  const overview: Record<string, number> = {};
  {
    const { service, take, close } = await fresh();
    await service.admins.cli.createClient({ slug: "small", secret: SECRET });
    await service.admins.cli.createClient({ slug: "big", secret: SECRET });
    for (let i = 0; i < 200; i++) await post(service, "small", `s-${i}`);
    const bigJobs = Number(Deno.env.get("BENCH_BIG_JOBS") ?? 100_000);
    for (let i = 0; i < bigJobs; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, bigJobs - i) }, (_, k) => post(service, "big", `b-${i + k}`)),
      );
    }
    // Let the last commits' outbound kicks finish, so only the overviews are counted.
    await new Promise((r) => setTimeout(r, 500));
    take();
    await service.admins.api.clientOverview({ slug: "small" });
    overview.jobs_200 = take().readUnits;
    await service.admins.api.clientOverview({ slug: "big" });
    overview[`jobs_${bigJobs}`] = take().readUnits;
    await close();
  }
  await calcom.shutdown();
  return { idle, idle_with_endpoints: endpointsIdle, clients_list: list, overview_read_units: overview };
}

/**
 * The full-disk attack, repeated (BENCH_DISK_RUNS, default 10; root, for a tmpfs): the service as
 * `deno task start` runs it with its default floor, reserve and queue delay on a 256 MB volume,
 * 100 webhooks accepted, then another writer fills the volume to the last byte at 256 KiB/ms while
 * deliveries keep coming; 40 s on the full disk (queue messages fall due meanwhile), then space is
 * freed. Counts the runs whose service exited, and those that accepted deliveries again.
 */
async function benchDiskFull() {
  const runs = Number(Deno.env.get("BENCH_DISK_RUNS") ?? 10);
  let exits = 0;
  let recovered = 0;
  let refusedWhileFull = 0;
  for (let run = 0; run < runs; run++) {
    const dir = await Deno.makeTempDir();
    await sh("mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", dir);
    const service = await startMain({ KV_PATH: `${dir}/kv.sqlite3`, HOST: "127.0.0.1" }, startTask());
    let n = 0;
    const deliver = async () => {
      const body = JSON.stringify({
        triggerEvent: "BOOKING_CREATED",
        createdAt: new Date().toISOString(),
        payload: {
          uid: `disk-${run}-${n++}`,
          startTime: "2026-10-14T16:00:00Z",
          endTime: "2026-10-14T17:00:00Z",
          attendees: [{ email: `p${n}@example.org`, name: "Pat" }],
          organizer: { email: "owner@business.example", name: "Owner" },
        },
      });
      try {
        const res = await fetch(`${service.url}/webhooks/calcom/bench`, {
          method: "POST",
          headers: { "x-cal-signature-256": createHmac("sha256", SECRET).update(body).digest("hex") },
          body,
        });
        await res.body?.cancel();
        return res.status;
      } catch {
        return 0;
      }
    };
    try {
      await service.admin("PUT", "/admin/clients/bench", { secret: SECRET });
      for (let i = 0; i < 100; i++) await deliver();
      const filling = fillDisk(`${dir}/filler`);
      while (
        !(await Promise.race([filling.then(() => true), new Promise((r) => setTimeout(() => r(false), 5))]))
      ) {
        await deliver();
      }
      for (let s = 0; s < 40 && !service.exited(); s++) {
        if ((await deliver()) === 503) refusedWhileFull++;
        await new Promise((r) => setTimeout(r, 1000));
      }
      if (service.exited()) exits++;
      else {
        await Deno.remove(`${dir}/filler`);
        for (let s = 0; s < 30; s++) {
          if ((await deliver()) === 202) {
            recovered++;
            break;
          }
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    } finally {
      await service.stop("SIGTERM");
      await sh("umount", dir);
      await Deno.remove(dir, { recursive: true });
    }
    console.error(`disk run ${run + 1}/${runs}: exits ${exits}, recovered ${recovered}`);
  }
  return { runs, exits, recovered, refused_while_full: refusedWhileFull };
}

/**
 * An unsigned flood from one address (behind a trusted proxy: X-Forwarded-For): 400 concurrent
 * 1 MiB POSTs, then (on a fresh service) those and 2,000 concurrent 60 KB POSTs, with a wrong
 * signature, while Cal.com (another
 * address) sends 200 signed ~1 KB webhooks and 100 signed ~40 KB ones (the 2026-07-27 payload with
 * ICS content); reports the service's peak RSS, its RSS a minute after, and how many signed ones
 * were accepted.
 */
async function benchFlood() {
  return {
    large_only: await floodOnce(0),
    with_2000_medium: await floodOnce(2000),
  };
}

/** One flood on a fresh service: 400 × 1 MiB and `mediums` × 60 KB unsigned, beside Cal.com's signed ones. */
async function floodOnce(mediums: number) {
  const dir = await Deno.makeTempDir();
  const env = { ...(await serviceEnv(dir)), TRUSTED_PROXIES: "127.0.0.1" };
  const service = await spawn(SERVE_ARGS, env, "/healthz");
  const url = `${service.url}/webhooks/calcom/bench`;
  const statuses = new Map<string, number>();
  const count = (what: string) => statuses.set(what, (statuses.get(what) ?? 0) + 1);
  const unsigned = async (body: Uint8Array<ArrayBuffer>) => {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "x-cal-signature-256": "0".repeat(64), "x-forwarded-for": "203.0.113.66" },
        body,
      });
      await res.body?.cancel();
      count(String(res.status));
    } catch {
      count("closed early");
    }
  };
  const large = new Uint8Array(1024 * 1024 - 1024).fill(97);
  const medium = new Uint8Array(60 * 1024).fill(98);
  const ics = [
    "BEGIN:VCALENDAR",
    ...Array.from({ length: 800 }, (_, i) => `DESCRIPTION:line ${i}`),
    "END:VCALENDAR",
  ]
    .join("\r\n");
  const corpus = [
    ...signedCorpus(200, "flood"),
    ...Array.from({ length: 100 }, (_, i) => {
      const json = JSON.parse(bookingBody(i, "flood-ics"));
      json.payload.attendeeIcsContent = ics;
      const body = JSON.stringify(json);
      return [createHmac("sha256", SECRET).update(body).digest("hex"), body];
    }),
  ];
  let accepted = 0;
  const signed = corpus.map(async ([sig, body], i) => {
    await new Promise((r) => setTimeout(r, i * 4));
    const res = await fetch(url, {
      method: "POST",
      headers: { "x-cal-signature-256": sig, "x-forwarded-for": "198.51.100.7" },
      body,
    });
    await res.body?.cancel();
    if (res.status === 202) accepted++;
  });
  await Promise.all([
    ...Array.from({ length: 400 }, () => unsigned(large)),
    ...Array.from({ length: mediums }, () => unsigned(medium)),
    ...signed,
  ]);
  const rss = await service.peakRssMb();
  let after = await service.rssMb();
  for (let s = 0; s < 60 && after >= 200; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    after = await service.rssMb();
  }
  await service.stop();
  await Deno.remove(dir, { recursive: true });
  return {
    peak_rss_mb: round(rss),
    rss_mb_a_minute_after: round(after),
    signed_accepted: accepted,
    signed_sent: corpus.length,
    unsigned: Object.fromEntries(statuses),
  };
}

/**
 * The steady-rate run in a process of its own: the one that ran the other phases holds hundreds of
 * MB of corpora, and a major GC of that heap while it sends at 500/s would be counted as latency.
 */
async function visibilityInFreshProcess(): Promise<Awaited<ReturnType<typeof benchVisibility>>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "bench/run.ts"],
    env: { BENCH_ONLY: "visibility" },
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the visibility run failed");
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

if (import.meta.main) {
  const generator = hasWrk
    ? `wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s, ${ROUNDS} runs each`
    : `built-in fetch generator, ${CONNECTIONS} connections`;
  console.error(`load generator: ${generator}`);
  if (!hasWrk) {
    console.error(
      "wrk is not on PATH: the built-in generator bounds the bare server, so the ingest ratio reads too high (apt-get install wrk).",
    );
  }
  const only = Deno.env.get("BENCH_ONLY");
  if (only === "visibility") {
    console.log(JSON.stringify(await benchVisibility()));
    Deno.exit(0);
  }
  if (only === "flood") {
    console.log(await benchFlood());
    Deno.exit(0);
  }
  if (only === "outbound") {
    console.log(JSON.stringify(await benchOutbound(), null, 2));
    Deno.exit(0);
  }
  if (only === "cost") {
    console.log(
      JSON.stringify(
        { without_endpoint: await benchCost(), with_one_endpoint: await benchCost(true) },
        null,
        2,
      ),
    );
    Deno.exit(0);
  }
  if (only === "disk") {
    console.log(JSON.stringify(await benchDiskFull(), null, 2));
    Deno.exit(0);
  }
  if (only === "scale") {
    console.log(JSON.stringify(await benchScale(), null, 2));
    Deno.exit(0);
  }
  if (only === "processing") {
    console.log(await benchProcessing());
    Deno.exit(0);
  }
  if (only === "ingest") {
    const { bare, webhook, ratio, caught_up } = await benchIngest();
    console.log({
      bare_rps: round(bare.rps, 0),
      webhook_rps: round(webhook.rps, 0),
      ratio: round(ratio, 3),
      caught_up,
    });
    Deno.exit(0);
  }
  const ingest = await benchIngest();
  console.error("ingest done");
  const processing = await benchProcessing();
  console.error("processing done");
  const visibility = await visibilityInFreshProcess();
  console.error("visibility done");
  const flood = await benchFlood();
  const cost = await benchCost();
  const costWithEndpoint = await benchCost(true);
  const outbound = await benchOutbound();
  const scale = await benchScale();
  const results = {
    cost,
    scale,
    cost_with_one_endpoint: costWithEndpoint,
    outbound,
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
    load_generator: generator,
    ingest: {
      bare_rps: round(ingest.bare.rps, 0),
      bare_p50_ms: round(ingest.bare.p50_ms, 2),
      bare_p99_ms: round(ingest.bare.p99_ms, 2),
      webhook_rps: round(ingest.webhook.rps, 0),
      webhook_p50_ms: round(ingest.webhook.p50_ms, 2),
      webhook_p99_ms: round(ingest.webhook.p99_ms, 2),
      webhook_requests: ingest.webhook.requests,
      webhook_non_2xx: ingest.webhook.non_2xx,
      ratio: round(ingest.ratio, 3),
      processing_caught_up: ingest.caught_up,
    },
    processing: {
      noop_drain_per_s: round(processing.noop_rate, 0),
      submissions_per_s: round(processing.process_rate, 0),
      ratio: round(processing.ratio, 2),
    },
    visibility_at_500_rps: {
      p50_ms: round(visibility.p50_ms),
      p99_ms: round(visibility.p99_ms),
      first_second_p50_ms: round(visibility.cold_p50_ms),
      first_second_p99_ms: round(visibility.cold_p99_ms),
    },
    peak_rss_mb: round(Math.max(ingest.rss, visibility.rss)),
    peak_rss_mb_ingest_burst: round(ingest.rss),
    peak_rss_mb_steady_500: round(visibility.rss),
    unsigned_flood: flood,
  };
  const table = [
    ["measure", "value", "target"],
    [
      "bare Deno.serve POST/s (p50 / p99 ms)",
      `${results.ingest.bare_rps} (${results.ingest.bare_p50_ms} / ${results.ingest.bare_p99_ms})`,
      "",
    ],
    [
      "webhook POST/s (p50 / p99 ms)",
      `${results.ingest.webhook_rps} (${results.ingest.webhook_p50_ms} / ${results.ingest.webhook_p99_ms})`,
      "",
    ],
    ["ingest ratio webhook / bare", `${results.ingest.ratio}`, "≥ 0.10"],
    ["no-op queue drain msg/s", `${results.processing.noop_drain_per_s}`, ""],
    ["processing submissions/s", `${results.processing.submissions_per_s}`, ""],
    ["processing ratio", `${results.processing.ratio}`, "≥ 1.0"],
    [
      "webhook → Job visible @500/s p50 / p99 ms",
      `${results.visibility_at_500_rps.p50_ms} / ${results.visibility_at_500_rps.p99_ms}`,
      "p99 ≤ 150",
    ],
    [
      "the same, first second of a fresh process",
      `${results.visibility_at_500_rps.first_second_p50_ms} / ${results.visibility_at_500_rps.first_second_p99_ms}`,
      "",
    ],
    ["peak RSS of the service (MB)", `${results.peak_rss_mb}`, "≤ 200"],
    [
      "unsigned flood 400 × 1 MiB: peak RSS / a minute after (MB)",
      `${flood.large_only.peak_rss_mb} / ${flood.large_only.rss_mb_a_minute_after}`,
      "≤ 300 / < 200",
    ],
    [
      "the same + 2,000 × 60 KB: peak RSS / a minute after (MB)",
      `${flood.with_2000_medium.peak_rss_mb} / ${flood.with_2000_medium.rss_mb_a_minute_after}`,
      "",
    ],
    [
      "Cal.com's signed webhooks accepted during the floods",
      `${flood.large_only.signed_accepted + flood.with_2000_medium.signed_accepted} / ${
        flood.large_only.signed_sent + flood.with_2000_medium.signed_sent
      }`,
      "all",
    ],
    ...cost.per_webhook.map((r) => [
      `KV per ${r.webhook} webhook: write units without the change log (with) / read units / atomics / bytes retained`,
      `${
        Number(r.write_units) - Number(r.change_log_write_units)
      } (${r.write_units}) / ${r.read_units} / ${r.atomics} / ${r.bytes_retained}`,
      r.webhook === "created" ? "≤ 9 / ≤ 5 / ≤ 2 /" : r.webhook === "duplicate" ? "" : "— / ≤ 5 / ≤ 2 /",
    ]),
    [
      "KV write units per booking life without the change log (with)",
      `${
        cost.booking_life.write_units - cost.booking_life.change_log_write_units
      } (${cost.booking_life.write_units})`,
      "≤ 30",
    ],
    [
      "KV write units per booking life with one endpoint (its deliveries)",
      `${costWithEndpoint.booking_life.write_units} (${costWithEndpoint.booking_life.outbound_write_units})`,
      "",
    ],
    [
      "webhook → delivered to the endpoint @500/s p50 / p99 ms (÷ long-poll p50)",
      `${outbound.one_endpoint.delivered_p50_ms} / ${outbound.one_endpoint.delivered_p99_ms} (${outbound.one_endpoint.delivered_over_long_poll_p50})`,
      "≤ 100 / ≤ 500",
    ],
    [
      "the same beside a dead endpoint; webhook answer p99 ms (alone / beside)",
      `${outbound.beside_a_dead_endpoint.delivered_p50_ms} / ${outbound.beside_a_dead_endpoint.delivered_p99_ms}; ${outbound.one_endpoint.answered_p99_ms} / ${outbound.beside_a_dead_endpoint.answered_p99_ms}`,
      "p99 ≤ 1000; beside ≤ 2× alone",
    ],
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  const lines = table.map((r) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`);
  lines.splice(1, 0, `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  console.log(`load generator: ${generator}; ${results.cpus} CPUs; Deno ${results.deno}\n`);
  console.log(lines.join("\n"));
  await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
  const file = `${ROOT}bench/results/${results.date.replace(/[:.]/g, "-")}.json`;
  await Deno.writeTextFile(file, JSON.stringify({ ...results, table: lines }, null, 2) + "\n");
  console.log(`\nwritten to ${file.replace(ROOT, "")}`);
}
