/**
 * The self-hosted server as docs/deploy.md sets it up: the service runs with the shipped systemd
 * unit's settings (its Environment= lines, its ExecStart, and the environment file it reads,
 * installed from .deploy/calcom-intake.env), and the backup recipe of the guide, run as written, backs
 * up that service's entries, not a new empty store. Paths under /var/lib and /etc are moved into a
 * temp folder; nothing else is changed.
 */
import assert from "node:assert/strict";
import { parse as parseEnvFile } from "dotenv";
import {
  ADMIN_TOKEN,
  fixture,
  FIXTURE_SECRET,
  postSigned,
  readServiceLog,
  withServer,
  withTempDir,
} from "../_helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const UNIT = Deno.readTextFileSync(`${ROOT}.deploy/calcom-intake.service`);
const ENV_TEMPLATE = Deno.readTextFileSync(`${ROOT}.deploy/calcom-intake.env`);
const GUIDE = Deno.readTextFileSync(`${ROOT}docs/deploy.md`);

/** Only what a root shell has: PATH and HOME (no KV_PATH of its own). */
const BARE_ENV = { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "" };

/** `deno …` in `cwd` with BARE_ENV and `env`, as root would type it: its exit code and output. */
async function deno(args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    clearEnv: true,
    env: { ...BARE_ENV, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** `Key=value` lines of the unit's [Service] section. */
function unitLines(key: string): string[] {
  return UNIT.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}

/** The guide's backup commands of step 6 and 7, as written. */
function recipe(): string[] {
  return [...GUIDE.matchAll(/`(deno task admin [^`]*backup [^`]*)`/g)].map((m) => m[1]);
}

Deno.test("the guide's backup recipe, on a server set up as written, backs up the service's entries", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/var/lib/calcom-intake`;
    const etc = `${dir}/etc/calcom-intake.env`;
    await Deno.mkdir(state, { recursive: true, mode: 0o700 });
    await Deno.mkdir(`${dir}/etc`);
    await Deno.mkdir(`${dir}/root`);
    const moved = (text: string) =>
      text.replaceAll("/var/lib/calcom-intake", state).replaceAll("/etc/calcom-intake.env", etc)
        .replaceAll("/root/", `${dir}/root/`);

    // Step 2: the environment file from the template, with the admin token filled in; the port is
    // the one change (0: any free one).
    assert.deepEqual(unitLines("EnvironmentFile"), ["/etc/calcom-intake.env"]);
    assert.match(GUIDE, /install -m 0600 \.deploy\/calcom-intake\.env \/etc\/calcom-intake\.env/);
    await Deno.writeTextFile(
      etc,
      moved(ENV_TEMPLATE).replace(/^PORT=.*$/m, "PORT=0") + `ADMIN_TOKEN=${ADMIN_TOKEN}\n`,
    );
    const settings = parseEnvFile(await Deno.readTextFile(etc));
    assert.equal(
      settings.KV_PATH,
      `${state}/calcom-intake.sqlite3`,
      "the store lives in the state directory",
    );
    assert.deepEqual(
      unitLines("Environment").filter((l) => /^(KV_PATH|HOST|PORT|ADMIN_TOKEN)=/.test(l)),
      [],
      "the service's settings are only in the file the admin commands read too",
    );

    // Step 3: the unit's command, with its Environment= lines and the file's settings. HOME is where
    // step 2 cached the dependencies; here the test's own cache stands in for it.
    const unitEnv = Object.fromEntries(
      unitLines("Environment").map((l) => l.split(/=(.*)/s).slice(0, 2)).filter(([k]) => k !== "HOME"),
    );
    const [program, ...args] = moved(unitLines("ExecStart")[0]).split(/\s+/);
    assert.equal(program, "deno");
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      clearEnv: true,
      env: { ...BARE_ENV, ...unitEnv, ...settings },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const log = readServiceLog(child);
    try {
      const url = (await log.listening).url.replace("0.0.0.0", "127.0.0.1");
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
      const put = await fetch(`${url}/admin/clients/acme`, {
        method: "PUT",
        headers,
        body: JSON.stringify({ secret: FIXTURE_SECRET, time_zone: "Europe/Berlin" }),
      });
      assert.equal(put.status, 201, await put.text());
      assert.equal(await postSigned(url, "acme", fixture("booking_created").body), 202);

      // Step 6 and 7, as written, run as root in the code's folder with no KV_PATH of their own.
      const commands = recipe();
      assert.ok(commands.length >= 3, `the guide's backup commands: ${commands.join(" | ")}`);
      for (const command of commands) {
        assert.match(command, /--env-file \/etc\/calcom-intake\.env/, command);
        const words = moved(command.replace("$(date +%F)", "2026-12-07")).split(/\s+/);
        assert.deepEqual(words.slice(0, 3), ["deno", "task", "admin"]);
        const run = await deno([...words.slice(1), "--json"], ROOT);
        assert.equal(run.code, 0, `${command}\n${run.stderr}`);
        const answer = JSON.parse(run.stdout);
        const restoredFrom = answer.format === "sqlite"
          ? answer.written
          : await restoreInto(`${dir}/restored-${crypto.randomUUID()}.sqlite3`, answer.written);
        if (answer.format === "ndjson") assert.ok(answer.entries > 0, command);
        await withServer({ kvPath: restoredFrom, mode: "inline" }, async (server) => {
          const jobs = await server.admin<{ items: unknown[] }>("GET", "/admin/clients/acme/jobs");
          assert.equal(jobs.body.items.length, 1, `${command}: the service's Job is in the backup`);
          const client = await server.admin<{ time_zone: string }>("GET", "/admin/clients/acme");
          assert.equal(client.body.time_zone, "Europe/Berlin", "and so are the client's settings");
        });
      }
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await log.drained.catch(() => {});
    }
  });
});

async function restoreInto(target: string, file: string): Promise<string> {
  const run = await deno(["task", "admin", "restore", file, "--create"], ROOT, { KV_PATH: target });
  assert.equal(run.code, 0, run.stderr);
  return target;
}

Deno.test("backup and restore without the service's settings refuse, name the path, and create nothing", async () => {
  await withTempDir(async (dir) => {
    for (
      const args of [["backup", `${dir}/out.ndjson`], ["backup", `${dir}/out.sqlite3`, "--sqlite"], [
        "restore",
        `${dir}/out.ndjson`,
      ]]
    ) {
      const { code, stderr } = await deno(["run", "--allow-all", `${ROOT}lib/cli/admin.ts`, ...args], dir);
      assert.equal(code, 1, args.join(" "));
      assert.match(stderr, /no KV store at \.\/data\/calcom-intake\.sqlite3 \(in .*\)/, stderr);
      assert.match(stderr, /--env-file \/etc\/calcom-intake\.env/);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), [], "nothing was created");
    }
  });
});
