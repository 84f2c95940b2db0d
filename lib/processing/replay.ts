/**
 * Replay: re-run stored submissions with today's code (quarantined bodies are re-parsed, failed
 * ones retried, processed ones re-applied, which changes nothing). Runs in the calling process so
 * the admin API and the CLI see the result at once.
 */
import type { Submission, SubmissionStatus } from "../domain/submission.ts";
import type { SubmissionRef } from "../store/batches.ts";
import { allSubmissionIds, getSubmission } from "../store/submissions.ts";
import type { Processor } from "./processor.ts";

const REPLAY_CHUNK = 50;

export interface ReplaySummary {
  status: SubmissionStatus;
  replayed: number;
  /** Resulting statuses, e.g. `{ processed: 3, quarantined: 1 }`. */
  results: Partial<Record<SubmissionStatus, number>>;
  errors: { submission_id: string; error: string }[];
}

export class Replayer {
  constructor(private readonly kv: Deno.Kv, private readonly processor: Processor) {}

  async replayOne(slug: string, id: string): Promise<Submission | null> {
    if (!(await getSubmission(this.kv, slug, id))) return null;
    await this.processor.process([[slug, id]], { force: true });
    return await getSubmission(this.kv, slug, id);
  }

  async replayAll(slug: string, status: SubmissionStatus): Promise<ReplaySummary> {
    const ids = await allSubmissionIds(this.kv, slug, status);
    const summary: ReplaySummary = { status, replayed: ids.length, results: {}, errors: [] };
    for (let i = 0; i < ids.length; i += REPLAY_CHUNK) {
      const refs: SubmissionRef[] = ids.slice(i, i + REPLAY_CHUNK).map((id) => [slug, id] as const);
      const result = await this.processor.process(refs, { force: true });
      for (const f of result.failures) summary.errors.push({ submission_id: f.ref[1], error: f.error });
      for (const [, id] of refs) {
        const s = await getSubmission(this.kv, slug, id);
        if (s) summary.results[s.status] = (summary.results[s.status] ?? 0) + 1;
      }
    }
    return summary;
  }
}
