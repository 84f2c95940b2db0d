/**
 * The tables put to use: every operation bound to a context as a function of one input object
 * (what the CLI, the tests and the bench call), a row run from the adapters' `{params, query,
 * body}`, the shapes the dashboard's client needs (no code), and the operator's OpenAPI document.
 */
import type { z } from "zod";
import type { OpsContext } from "../api/context.ts";
import { openApiDocument } from "../api/openapi.ts";
import {
  bodyFields,
  capabilityOf,
  type Operation,
  type OperationInput,
  type OpInput,
  opInput,
  queryFields,
} from "../api/operation.ts";
import type { PortalCapability, TokenScope } from "../domain/tokens.ts";
import { CLIENT_API_OPERATIONS } from "../api/table.ts";
import { ADMIN_OPERATIONS, OPERATION_LIST, type OperationName, OPERATIONS } from "./table.ts";

/** Each operation as a function of one input object, answering as its schema says. */
export type Operations = {
  [K in OperationName]: (input?: OpInput) => Promise<z.output<(typeof OPERATIONS)[K]["answer"]>>;
};

/** The operations bound to one context (what the CLI, the tests and the bench call). */
export function operations(ctx: OpsContext): Operations {
  return Object.fromEntries(
    OPERATION_LIST.map(([name, row]) => [name, (input: OpInput = {}) => row.run(ctx, input)]),
  ) as Operations;
}

/** Runs a row with the adapters' `{params, query, body}`. */
export function runOperation(ctx: OpsContext, row: Operation, input: Partial<OperationInput>) {
  return row.run(ctx, opInput(input));
}

/** What a browser or a remote client needs of a row: no code, only the shapes. */
export interface RowShape {
  method: string;
  path: string;
  scope: TokenScope | null;
  capability: PortalCapability | null;
  /** Sends an Idempotency-Key header. */
  idempotent: boolean;
  query: string[];
  body: string[];
  answer: "json" | "csv";
}

function shapesOf(rows: readonly (readonly [string, Operation])[]): Record<string, RowShape> {
  return Object.fromEntries(
    rows.map(([name, row]) => [name, {
      method: row.method,
      path: row.path,
      scope: row.scope ?? null,
      capability: capabilityOf(row),
      idempotent: row.idempotent ?? false,
      query: queryFields(row),
      body: bodyFields(row) ?? [],
      answer: row.csv ? "csv" : "json",
    }]),
  );
}

/** Every row's shape (the dashboard's client, the CLI's remote client). */
export function publicTable(): Record<string, RowShape> {
  return shapesOf(OPERATION_LIST);
}

/**
 * The client API's rows for the portal, named as the operator's copies are (`apiListEndpoints` →
 * `listEndpoints`), so the screens both share call one name.
 */
export function portalTable(): Record<string, RowShape> {
  return shapesOf(
    Object.entries(CLIENT_API_OPERATIONS).map(([name, row]) => [name[3].toLowerCase() + name.slice(4), row]),
  );
}

/** The operator's API as an OpenAPI 3.1 document (`/admin/openapi.json`). */
export function adminApiDocument(): Record<string, unknown> {
  return openApiDocument({
    title: "calcom-intake admin API",
    version: "1.0.0",
    description:
      "The operator's API: clients, their secrets, Cal.com connection and tokens; their Jobs, Contacts, submissions, " +
      "replay, erase, export and reconciliation; outbound endpoints. Every route takes `Authorization: Bearer " +
      "<ADMIN_TOKEN>`. The client API (`/api/v1/openapi.json`) is what a business's own system calls; the admin " +
      'token may call it too. Every refusal is `{"error": {"code", "message"}}`.',
    operations: ADMIN_OPERATIONS,
  });
}
