/**
 * What one row of an operations table is: how it is reached (method, path, the scope a client
 * token needs), what it takes (query and body as zod schemas; path params are strings), what it
 * answers (a zod schema, the success status, the errors it gives on purpose), how the CLI names it,
 * and the function that runs it. The client API's rows (`api/table.ts`) and the operator's
 * (`admin/table.ts`) have this shape; the HTTP routes, the CLI, the dashboard's client and the
 * OpenAPI documents are all built from the rows, so none of them keeps a copy.
 */
import type { z } from "zod";
import { type Caller, type PortalCapability, SCOPE_CAPABILITY, type TokenScope } from "../domain/tokens.ts";
import type { OpsContext } from "./context.ts";

/** An operation's input as every adapter hands it over: strings from the path and query, a JSON body. */
export interface OperationInput {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: Record<string, unknown>;
  /** Aborts when the caller goes away (a long-poll stops waiting). */
  signal?: AbortSignal;
  /** Who calls (the HTTP routes say; the CLI is the operator). */
  caller?: Caller;
  /** The `Idempotency-Key` header, for rows that take one. */
  idempotencyKey?: string;
}

/**
 * What an operation's function takes: one object of its path params, query and body fields
 * (untyped: the function validates each into a value or a 400 that says what to send).
 */
export type OpInput = Record<string, unknown> & {
  signal?: AbortSignal;
  caller?: Caller;
  idempotencyKey?: string;
};

/** How the CLI offers an operation. */
export interface CliSpec {
  /** The command words, e.g. "client add". Several rows may share one: see `selectedBy`. */
  command: string;
  /**
   * Positional names, one per path parameter in order (e.g. ["slug", "job-id"]); one written
   * "=word" is that word typed literally, which picks this row among rows of the same command.
   */
  args?: readonly string[];
  /** The help line, where it says more than the row's summary (the CLI's own flags). */
  summary?: string;
  /** Columns of the table shown for a listing's items. */
  columns?: readonly string[];
  /** A boolean flag that picks this row among rows of the same command (e.g. `submission --body`). */
  selectedBy?: string;
  /** Query fields that must be given (the command is refused without them). */
  required?: readonly string[];
  /** Destroys data: refused without --yes (or a typed confirmation), and says what. */
  confirm?: string;
  /** CLI flag → field, where the flag is not the field's name with `-` for `_`. */
  flags?: Readonly<Record<string, string>>;
  /** Fields the CLI fills in itself (e.g. `erase: "true"`: the confirmation is --yes). */
  fixed?: Readonly<Record<string, string>>;
}

// deno-lint-ignore no-explicit-any
type AnyObject = z.ZodObject<any>;

export interface Operation<A extends z.ZodType = z.ZodType> {
  method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** A URLPattern pathname; `:name` parts become params. */
  path: string;
  /**
   * A row of the client API: a client token of that client with this scope may call it, as may
   * the admin token. Rows without are the operator's (the admin token only).
   */
  scope?: TokenScope;
  /** The portal capability a session needs for it, where not its scope's (`SCOPE_CAPABILITY`). */
  capability?: PortalCapability;
  /**
   * Called without a bearer token (opening a portal session: the body carries the link's key). A
   * public row has no scope and is not the operator's.
   */
  public?: true;
  /** Takes a required `Idempotency-Key` header (write-back). */
  idempotent?: true;
  /** One line: what it does (the OpenAPI summary, and the CLI's help unless `cli.summary`). */
  summary: string;
  /** More: semantics a caller must know (cursors, retention, what is shown once). */
  description?: string;
  query?: AnyObject;
  body?: AnyObject;
  /** The success answer (for `csv` rows, the file's text). */
  answer: A;
  /** The success status: fixed, or chosen from the result (default 200). */
  status?: number | ((result: z.output<A>) => number);
  /** Every success status `status` can choose, where it chooses (e.g. [200, 201]). */
  statuses?: readonly number[];
  /** Refusals the operation itself gives, by status: when. (Auth, 400 and 404 are added for all.) */
  errors?: Readonly<Record<number, string>>;
  /** The answer is a CSV file: the result is `{filename, csv}`. */
  csv?: true;
  cli?: CliSpec;
  run: (ctx: OpsContext, input: OpInput) => Promise<z.output<A> | CsvFile>;
}

export interface CsvFile {
  filename: string;
  csv: string;
}

/** A row, with its function's answer checked against its schema by the compiler. */
export function op<A extends z.ZodType>(row: Operation<A>): Operation<A> {
  return row;
}

/** The capability a portal session needs for a client-API row (null: a portal session may not call it). */
export function capabilityOf(op: Operation): PortalCapability | null {
  return op.capability ?? (op.scope ? SCOPE_CAPABILITY[op.scope] : null);
}

/** The query fields a row reads. */
export function queryFields(op: Operation): string[] {
  return op.query ? Object.keys(op.query.shape) : [];
}

/** The body fields a row reads (none: the row takes no body). */
export function bodyFields(op: Operation): string[] | null {
  return op.body ? Object.keys(op.body.shape) : null;
}

/** The adapters' `{params, query, body}` as the one object an operation takes. */
export function opInput(input: Partial<OperationInput>): OpInput {
  const merged: OpInput = { ...input.body, ...input.query, ...input.params };
  // Not fields a caller can send: set by the route (the token it checked, the connection).
  delete merged.caller;
  delete merged.signal;
  delete merged.idempotencyKey;
  if (input.idempotencyKey) {
    Object.defineProperty(merged, "idempotencyKey", { value: input.idempotencyKey, enumerable: false });
  }
  if (input.caller) Object.defineProperty(merged, "caller", { value: input.caller, enumerable: false });
  if (input.signal) {
    Object.defineProperty(merged, "signal", { get: () => input.signal, enumerable: false });
  }
  return merged;
}

/** The names of a path's `:params`, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z_]\w*)/g)].map((m) => m[1]);
}

/** The path with its params filled in (each encoded as one path segment). */
export function fillPath(path: string, params: Record<string, string>): string {
  return path.replace(/:([A-Za-z_]\w*)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`Missing path parameter "${name}" for ${path}.`);
    return encodeURIComponent(value);
  });
}
