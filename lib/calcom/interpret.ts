/**
 * What a stored body means, by the channel it came in on: a webhook delivery (`calcom`) or a
 * booking read from Cal.com's API by reconciliation (`calcom_api`). Processing and replay read
 * every stored body through here.
 */
import type { Interpretation, SubmissionChannel } from "../domain/submission.ts";
import { interpretSnapshot } from "./api.ts";
import { interpretBytes } from "./normalize.ts";

const utf8 = new TextDecoder();

export function interpretStored(
  channel: SubmissionChannel,
  body: Uint8Array,
  receivedAt: string,
): Interpretation {
  return channel === "calcom_api"
    ? interpretSnapshot(utf8.decode(body), receivedAt)
    : interpretBytes(body, receivedAt);
}
