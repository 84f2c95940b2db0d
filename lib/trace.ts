/**
 * Traces, through the OpenTelemetry API: Deno exports them itself when started with
 * `OTEL_DENO=true` (a span per `Deno.serve` request and per `fetch`, OTLP over HTTP), and these
 * helpers add the spans it cannot know of (commits, processing, reconciliation, connect, outbound
 * attempts, the long-poll). Without OTEL_DENO every call here is a no-op. Attributes name things
 * (slugs, ids, counts, statuses), never a secret, token, key or signature.
 *
 * A change carries its trace from the commit that made it to the delivery that pushes it: the
 * commit remembers the entry id's context (`rememberTrace`), and the outbound attempt for that
 * entry starts its span under it (`traceOf`), so one trace runs from the webhook to the delivery
 * (in this process; another instance's delivery starts its own trace).
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  type Span,
  type SpanContext,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

export type { SpanContext };

const tracer = trace.getTracer("calcom-intake");

/**
 * Runs `fn` in a new span (a child of the active one, or of `parent`; `links` to other spans it
 * served), ending it when `fn` settles; a throw marks it as an error (a refusal with a status
 * below 500 is not one: the span says which).
 */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  options: { parent?: Context; links?: readonly (SpanContext | undefined)[] } = {},
): Promise<T> {
  const links: Link[] = (options.links ?? []).flatMap((
    c,
  ) => (c && trace.isSpanContextValid(c) ? [{ context: c }] : []));
  const start = { attributes, ...(links.length ? { links } : {}) };
  return await tracer.startActiveSpan(name, start, options.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      const status = (error as { status?: unknown }).status;
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string") span.setAttribute("error.type", code);
      if (typeof status !== "number" || status >= 500) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active request span (Deno's for a `Deno.serve` request): named by the route, never the path. */
export function nameRequestSpan(method: string, route: string): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.updateName(`${method} ${route}`);
  span.setAttribute("http.route", route);
}

/** Marks the active span failed (a 5xx the error middleware answered). */
export function failActiveSpan(error: unknown): void {
  const span = trace.getActiveSpan();
  if (!span) return;
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** The active span's context (to link to it from work done on its behalf later), if any. */
export function activeSpanContext(): SpanContext | undefined {
  return trace.getActiveSpan()?.spanContext();
}

/** Marks `span` failed with a message (an outcome that is a failure without a throw). */
export function failSpan(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** The active trace's ids, for log lines (null: no trace, e.g. OTEL_DENO is off). */
export function traceIds(): { trace_id: string; span_id: string } | null {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx)) return null;
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

/** Contexts of recently committed change-log entries, by entry id (bounded: the oldest go first). */
const carried = new Map<string, Context>();
const MAX_CARRIED = 10_000;

/** Remembers the active context as the one entry `id` was committed in. */
export function rememberTrace(id: string): void {
  if (!trace.getActiveSpan()) return;
  carried.delete(id);
  carried.set(id, context.active());
  if (carried.size > MAX_CARRIED) carried.delete(carried.keys().next().value!);
}

/** The context entry `id` was committed in, when this process committed it lately. */
export function traceOf(id: string): Context | undefined {
  return carried.get(id);
}
