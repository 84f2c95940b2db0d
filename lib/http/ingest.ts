/**
 * Ingest pressure as route middleware: each webhook request, from its first byte to its answer,
 * counts as a delivery in progress, which is what processing steps aside for under a burst
 * (`processing/ingest_pressure.ts`; queue mode only, so `pressure` is null in inline mode).
 */
import type { IngestPressure } from "../processing/ingest_pressure.ts";
import type { Handler } from "./context.ts";

export function countedAsIngest(pressure: IngestPressure | null, handler: Handler): Handler {
  if (!pressure) return handler;
  return (ctx) => pressure.during(async () => await handler(ctx));
}
