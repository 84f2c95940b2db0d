/**
 * `deno task receive`: a local receiver for outbound webhooks, like `stripe listen`. It listens on
 * a port, verifies every delivery with the `standardwebhooks` library against the endpoint's
 * secret (WEBHOOK_RECEIVER_SECRET, or `--secret -` for stdin), prints what arrived, and answers 204
 * (401 for a bad signature). Point an endpoint at it (with OUTBOUND_ALLOW_PRIVATE on the service, or
 * through a tunnel) to watch a client's changes go out.
 */
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { secretInput, UsageError } from "./secret_input.ts";

export const RECEIVE_USAGE = `Usage: deno task receive [--port 9000] [--host 127.0.0.1] [--json]

Listens for calcom-intake's outbound webhooks, verifies each with the endpoint's secret
(WEBHOOK_RECEIVER_SECRET, or --secret - to read it from stdin), prints it, answers 204 (401 when
the signature does not verify).`;

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      secret: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(RECEIVE_USAGE);
    return 0;
  }
  const secret = await secretInput(
    "secret",
    values.secret,
    { name: "WEBHOOK_RECEIVER_SECRET", value: Deno.env.get("WEBHOOK_RECEIVER_SECRET") },
    (line) => console.error(line),
  );
  if (!secret) throw new UsageError(`Give the endpoint's secret (whsec_…).\n\n${RECEIVE_USAGE}`);
  const port = Number(values.port ?? 9000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port must be 0 to 65535.");
  const webhook = new Webhook(secret);
  const server = Deno.serve({
    hostname: values.host ?? "127.0.0.1",
    port,
    onListen: ({ hostname, port }) =>
      console.error(`listening on http://${hostname}:${port}/ (Ctrl-C to stop)`),
  }, async (req) => {
    const body = await req.text();
    const headers = Object.fromEntries(req.headers);
    try {
      const event = webhook.verify(body, headers) as {
        type: string;
        data: { job_id: string; job_version: number };
      };
      const id = req.headers.get("webhook-id");
      console.log(
        values.json
          ? JSON.stringify({ id, ...event })
          : `${event.type}  job ${event.data.job_id} v${event.data.job_version}  (${id})`,
      );
      return new Response(null, { status: 204 });
    } catch (error) {
      console.error(`refused a delivery: ${error instanceof Error ? error.message : error}`);
      return new Response("signature did not verify", { status: 401 });
    }
  });
  Deno.addSignalListener("SIGINT", () => server.shutdown());
  await server.finished;
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exitCode =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1;
  }
}
