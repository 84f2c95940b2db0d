/**
 * Starting the service where it cannot run says why in a person's words and exits 1: a port
 * already in use, a KV path it cannot open.
 */
import assert from "node:assert/strict";
import { readServiceLog, withTempDir } from "../_helpers.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** `deno run` of the service with the start task's permissions. */
const SERVICE_ARGS = [
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys=statfs",
  MAIN,
];

async function start(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: SERVICE_ARGS,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("a port already in use: one sentence saying what to do, exit 1 (no stack trace)", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await withTempDir(async (dir) => {
      const { port } = busy.addr as Deno.NetAddr;
      const run = await start({ KV_PATH: `${dir}/kv.sqlite3`, HOST: "127.0.0.1", PORT: String(port) });
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`Port ${port} is already in use.*PORT=${port + 1}`));
      assert.doesNotMatch(run.stderr, /\bat \S+\.ts:\d+/, "no stack trace");
    });
  } finally {
    busy.close();
  }
});

Deno.test("a KV path that cannot be opened: what to check, exit 1", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/not-a-db`, "this is not SQLite, it is text");
    const run = await start({ KV_PATH: `${dir}/not-a-db`, PORT: "0", HOST: "127.0.0.1" });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /KV_PATH .*not-a-db could not be opened/);
  });
});

Deno.test("a volume too small for the storage floor: why and what to set, exit 1", async () => {
  await withTempDir(async (dir) => {
    const mount = (...args: string[]) => new Deno.Command(args[0], { args: args.slice(1) }).output();
    assert.ok(
      (await mount("mount", "-t", "tmpfs", "-o", "size=100m", "tmpfs", dir)).success,
      "mount a tmpfs",
    );
    try {
      // Also where the KV file's folder is not there yet (a fresh clone's ./data): its volume is the parent's.
      for (const path of [`${dir}/kv.sqlite3`, `${dir}/data/kv.sqlite3`]) {
        const run = await start({ KV_PATH: path, PORT: "0", HOST: "127.0.0.1" });
        assert.equal(run.code, 1, path);
        assert.match(run.stderr, /is 100 MB, too small for DISK_FLOOR_MB=64 and DISK_RESERVE_MB=32/);
        assert.match(run.stderr, /at least 144 MB, or lower DISK_FLOOR_MB and DISK_RESERVE_MB/);
        assert.doesNotMatch(run.stderr, /\bat \S+\.ts:\d+/, "no stack trace");
      }
      // With limits that fit, the same volume serves.
      const fits = new Deno.Command(Deno.execPath(), {
        args: SERVICE_ARGS,
        env: {
          KV_PATH: `${dir}/kv.sqlite3`,
          PORT: "0",
          HOST: "127.0.0.1",
          DISK_FLOOR_MB: "12",
          DISK_RESERVE_MB: "6",
        },
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = fits.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes('"listening"')) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      assert.match(out, /"listening"/);
      fits.kill("SIGTERM");
      await reader.cancel();
      await fits.status;
    } finally {
      await mount("umount", dir);
    }
  });
});

Deno.test("OUTBOUND_ALLOW_PRIVATE on: a warning at start naming its risk; off: none", async () => {
  await withTempDir(async (dir) => {
    for (const [value, warned] of [["1", true], ["0", false]] as const) {
      const child = new Deno.Command(Deno.execPath(), {
        args: SERVICE_ARGS,
        env: {
          KV_PATH: `${dir}/kv-${value}.sqlite3`,
          PORT: "0",
          HOST: "127.0.0.1",
          OUTBOUND_ALLOW_PRIVATE: value,
        },
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const log = readServiceLog(child);
      await log.listening;
      const warning = log.lines.map((l) => JSON.parse(l)).find((l) =>
        l.level === "warn" && l.msg === "setting"
      );
      child.kill("SIGTERM");
      await child.status;
      await log.drained.catch(() => {});
      if (!warned) assert.equal(warning, undefined);
      else assert.match(warning?.warning ?? "", /OUTBOUND_ALLOW_PRIVATE is on: .*private addresses/);
    }
  });
});
