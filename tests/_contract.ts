/**
 * The contract check every test server runs: each answer of a documented route (2xx and errors)
 * is validated with ajv (JSON Schema 2020-12) against the OpenAPI documents the service serves,
 * and each delivered webhook against its `webhooks` entry. A field an answer has that its schema
 * lacks, a required one it misses, or a status the document does not list, is a violation; the
 * test server fails its test with them when it closes.
 */
import { Ajv2020 } from "ajv/dist/2020";
import { clientApiDocument } from "../lib/api/openapi.ts";
import { adminApiDocument } from "../lib/admin/operations.ts";
import { readConfig } from "../lib/config.ts";

type Json = Record<string, unknown>;
type Handler = (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;

interface Route {
  pattern: URLPattern;
  method: string;
  /** Where its operation object is in its document, as a JSON pointer. */
  pointer: string;
  document: string;
  operation: Json;
}

/** `~` and `/` escaped for a JSON pointer. */
const escape = (part: string) => part.replaceAll("~", "~0").replaceAll("/", "~1");

export class Contract {
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });
  readonly #routes: Route[] = [];
  readonly #documents: Record<string, Json>;

  constructor(documents: Record<string, Json>) {
    this.#documents = documents;
    for (const [id, doc] of Object.entries(documents)) {
      this.#ajv.addSchema(doc, id);
      for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
        for (const [method, operation] of Object.entries(methods)) {
          this.#routes.push({
            pattern: new URLPattern({ pathname: path.replace(/\{(\w+)\}/g, ":$1") }),
            method: method.toUpperCase(),
            pointer: `#/paths/${escape(path)}/${method}`,
            document: id,
            operation,
          });
        }
      }
    }
  }

  /** The route's operationId, or null when no document has the request's route. */
  operationOf(method: string, url: string): string | null {
    const route = this.#route(method, url);
    return route ? route.operation.operationId as string : null;
  }

  /** What is wrong with an answer to a documented route (empty: nothing; null: not documented). */
  checkAnswer(
    method: string,
    url: string,
    status: number,
    contentType: string,
    body: string,
  ): string[] | null {
    const route = this.#route(method, url);
    if (!route) return null;
    const where = `${method} ${new URL(url).pathname} → ${status}`;
    const responses = route.operation.responses as Record<string, Json>;
    const key = String(status) in responses
      ? String(status)
      : `${String(status)[0]}XX` in responses
      ? `${String(status)[0]}XX`
      : "default" in responses && status >= 400
      ? "default"
      : null;
    if (key === null) return [`${where}: the document lists no answer with this status`];
    const content = (responses[key].content ?? {}) as Record<string, Json>;
    const type = contentType.split(";")[0].trim();
    if (!(type in content)) {
      return [`${where}: answered ${type || "no content type"}; the document says ${Object.keys(content)}`];
    }
    if (type !== "application/json") return [];
    const pointer = `${route.pointer}/responses/${key}/content/application~1json/schema`;
    return this.#validate(route.document, pointer, where, body);
  }

  /** What is wrong with a delivered webhook, against the client API's `webhooks` entry of its type. */
  checkWebhook(headers: Headers, body: string): string[] {
    let type: string;
    try {
      type = JSON.parse(body).type;
    } catch {
      return ["the webhook body is not JSON"];
    }
    const doc = this.#documents.client;
    const entry = (doc.webhooks as Record<string, { post: Json }>)[type];
    if (!entry) return [`no webhooks entry for type ${type}`];
    const problems = (entry.post.parameters as { name: string; in: string; required: boolean }[])
      .filter((p) => p.in === "header" && p.required && !headers.get(p.name))
      .map((p) => `webhook ${type}: header ${p.name} missing`);
    const pointer = `#/webhooks/${escape(type)}/post/requestBody/content/application~1json/schema`;
    return [...problems, ...this.#validate("client", pointer, `webhook ${type}`, body)];
  }

  #validate(document: string, pointer: string, where: string, body: string): string[] {
    const validate = this.#ajv.getSchema(`${document}${pointer}`);
    if (!validate) return [`${where}: no schema at ${pointer}`];
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return [`${where}: the answer is not JSON`];
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) =>
      `${where}: ${e.instancePath || "(the answer)"} ${e.message}${
        e.params && "additionalProperty" in e.params ? ` (${e.params.additionalProperty})` : ""
      }`
    );
  }

  #route(method: string, url: string): Route | undefined {
    return this.#routes.find((r) => r.method === method && r.pattern.test(url));
  }

  /**
   * The handler, with every answer of a documented route checked; `violations` collects what is
   * wrong, `seen` which operations answered which statuses.
   */
  wrap(handler: Handler, violations: string[], seen?: Map<string, Set<number>>): Handler {
    return async (req, info) => {
      const method = req.method;
      const url = req.url;
      const res = await handler(req, info);
      const operation = this.operationOf(method, url);
      if (!operation) return res;
      const text = await res.clone().text();
      const problems = this.checkAnswer(method, url, res.status, res.headers.get("content-type") ?? "", text);
      if (problems) violations.push(...problems);
      if (seen) {
        if (!seen.has(operation)) seen.set(operation, new Set());
        seen.get(operation)!.add(res.status);
      }
      return res;
    };
  }
}

let shared: Contract | null = null;

/** The contract as a service with the default settings serves it (built once per test process). */
export function contract(): Contract {
  shared ??= new Contract({
    client: clientApiDocument(readConfig(() => undefined).changeLogRetentionDays),
    admin: adminApiDocument(),
  });
  return shared;
}
