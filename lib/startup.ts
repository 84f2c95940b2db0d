/**
 * What stops the service at start, in a person's words: a KV that will not open (on Deno Deploy,
 * usually no database attached to the app), a port already in use; and what it warns of at start.
 */
import type { Config } from "./config.ts";
import { ALLOW_PRIVATE_RISK } from "./domain/outbound.ts";

/** Why KV did not open, and what to do. */
export function kvOpenProblem(config: Config, error: unknown): string {
  const cause = error instanceof Error ? error.message : String(error);
  if (config.platform === "deno-deploy" && config.kvPath === null) {
    return `The KV database attached to this app could not be opened (${cause}). Attach one: deno deploy database provision <name> --kind denokv, then deno deploy database assign <name> --app <app>, and deploy again (docs/deploy.md).`;
  }
  return `KV_PATH ${config.kvPath} could not be opened (${cause}). Check that the folder is writable by this user and that the file is a Deno KV database.`;
}

/** What to do about a failure to listen, or null when it is not one of those. */
export function listenProblem(config: Config, error: unknown): string | null {
  if (error instanceof Deno.errors.AddrInUse) {
    const port = config.port ?? 8000;
    return `Port ${port} is already in use (another calcom-intake, or another program). Stop it, or start this one with PORT=${
      port + 1
    }.`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable || error instanceof Deno.errors.PermissionDenied) {
    return `Cannot listen on ${config.hostname ?? "the platform's address"}:${config.port ?? "its port"} (${
      (error as Error).message
    }). Check HOST and PORT (ports under 1024 need privileges).`;
  }
  return null;
}

/** Settings that run, but that an operator should know are on: one warning line each. */
export function startupWarnings(config: Config): string[] {
  return config.outboundAllowPrivate
    ? [`OUTBOUND_ALLOW_PRIVATE is on: ${ALLOW_PRIVATE_RISK}. Leave it off unless every receiver is yours.`]
    : [];
}
