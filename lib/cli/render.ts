/**
 * What the command-line tools print for people: a listing as a table with a header and a rule, an
 * object as aligned `field  value` lines (nested objects as `field.sub`, lists of records as a
 * table of their own), a file as it is. `--json` prints the answer itself instead.
 */

/** Text for people. */
export function render(result: unknown, columns?: readonly string[]): string {
  if (typeof result === "string") return result;
  if (isRecord(result) && Array.isArray(result.items)) {
    const out = [table(result.items as unknown[], columns)];
    if (typeof result.cursor === "string" && result.cursor) out.push(`more: --cursor ${result.cursor}`);
    return out.join("\n");
  }
  if (isRecord(result)) return fields(result).join("\n");
  return String(result);
}

/** Rows under a header and a rule; "(none)" for an empty list. */
export function table(items: readonly unknown[], columns?: readonly string[]): string {
  const records = items.map((item) => (isRecord(item) ? item : { value: item }));
  const cols = columns ?? Object.keys(records[0] ?? {}).slice(0, 6);
  const rows = [[...cols], ...records.map((item) => cols.map((c) => cell(item[c])))];
  const widths = cols.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  const out = [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
  if (records.length === 0) out.push("(none)");
  return out.join("\n");
}

/** `field  value` lines, aligned; nested records flattened, lists of records as indented tables. */
function fields(record: Record<string, unknown>): string[] {
  const flat: [string, unknown][] = [];
  const walk = (prefix: string, value: Record<string, unknown>) => {
    for (const [key, v] of Object.entries(value)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (isRecord(v) && Object.keys(v).length > 0) walk(name, v);
      else flat.push([name, v]);
    }
  };
  walk("", record);
  const width = Math.max(0, ...flat.map(([k]) => k.length));
  const out: string[] = [];
  for (const [key, value] of flat) {
    if (Array.isArray(value) && value.length > 0 && value.every(isRecord)) {
      out.push(`${key}:`, ...table(value).split("\n").map((l) => `  ${l}`));
    } else out.push(`${key.padEnd(width)}  ${cell(value, Infinity)}`);
  }
  return out;
}

function cell(value: unknown, max = 48): string {
  if (value === null || value === undefined || value === "") return "—";
  if (isRecord(value) && Object.keys(value).length === 0) return "—";
  if (Array.isArray(value)) {
    return value.length === 0
      ? "—"
      : clip(value.map((v) => (isRecord(v) ? summary(v) : String(v))).join(", "), max);
  }
  return clip(isRecord(value) ? summary(value) : String(value), max);
}

/** A record in one cell: its `code`, `id` or first value, else `key=value` pairs. */
function summary(record: Record<string, unknown>): string {
  for (const key of ["code", "id", "uid", "slug"]) if (typeof record[key] === "string") return record[key];
  return Object.entries(record).map(([k, v]) => `${k}=${isRecord(v) ? "…" : String(v)}`).join(" ");
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
