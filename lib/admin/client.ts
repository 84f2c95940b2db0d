/**
 * A client of a running service's admin API, built from the operations table: `call("listJobs",
 * input)` sends exactly what that row's route reads. The CLI's `--url` mode and `deno task send` use
 * it; its failures are `HttpError`s in a person's words (service unreachable, token refused).
 */
import { HttpError } from "../errors.ts";
import { bodyFields, fillPath, type Operation, type OperationInput } from "../api/operation.ts";
import { type OperationName, OPERATIONS } from "./table.ts";

/** Sent by the dashboard's script and the CLI, so audit lines say where a change came from. */
export const ADMIN_CLIENT_HEADER = "x-calcom-intake-client";

export interface AdminTarget {
  url: string;
  token: string;
  /** Who is calling, for the audit lines ("cli"). */
  source?: string;
}

/** Calls one operation; answers its JSON (or, for CSV rows, the text). */
export async function callOperation(
  target: AdminTarget,
  name: OperationName,
  input: Partial<OperationInput> = {},
): Promise<unknown> {
  const op: Operation = OPERATIONS[name];
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(input.query ?? {})) {
    if (value !== undefined && value !== "") query.set(key, value);
  }
  const base = target.url.replace(/\/+$/, "");
  const url = `${base}${fillPath(op.path, input.params ?? {})}${query.size ? `?${query}` : ""}`;
  const hasBody = bodyFields(op) !== null;
  let res: Response;
  try {
    res = await fetch(url, {
      method: op.method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(target.source ? { [ADMIN_CLIENT_HEADER]: target.source } : {}),
        ...(hasBody ? { "content-type": "application/json" } : {}),
        ...(input.idempotencyKey ? { "idempotency-key": input.idempotencyKey } : {}),
      },
      body: hasBody ? JSON.stringify(input.body ?? {}) : undefined,
    });
  } catch (error) {
    throw new HttpError(
      503,
      "service_unreachable",
      `Cannot reach the service at ${base} (${
        error instanceof Error ? error.message.replace(/^.*?: /, "") : error
      }). Is it running, and is the URL right?`,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let error: { code?: string; message?: string } = {};
    try {
      error = JSON.parse(text).error ?? {};
    } catch {
      // Not our error shape (a proxy's page): the status says enough.
    }
    if (res.status === 401) {
      throw new HttpError(
        401,
        "unauthorized",
        `The service at ${base} refused the admin token: check ADMIN_TOKEN (or --token).`,
      );
    }
    throw new HttpError(
      res.status,
      error.code ?? "http_error",
      error.message ?? `The service at ${base} answered HTTP ${res.status}.`,
    );
  }
  if (op.csv) return text;
  return text ? JSON.parse(text) : null;
}
