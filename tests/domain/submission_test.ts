import assert from "node:assert/strict";
import { submissionIdFor } from "../../lib/domain/submission.ts";

const sha = (c: string) => c.repeat(64);

Deno.test("a submission id comes from the body alone and sorts by Cal.com's createdAt", () => {
  const early = submissionIdFor("2026-10-01T00:00:00.000Z", sha("a"));
  assert.equal(early, `${Date.parse("2026-10-01T00:00:00.000Z")}-${"a".repeat(32)}`);
  assert.equal(submissionIdFor("2026-10-01T00:00:00.000Z", sha("a")), early, "same body, same id");
  assert.notEqual(submissionIdFor("2026-10-01T00:00:00.000Z", sha("b")), early);
  const later = submissionIdFor("2026-10-01T00:00:00.001Z", sha("0"));
  assert.ok(early < later, "ids sort by createdAt");
  for (const unusable of [null, "not a date", "1969-12-31T23:59:59Z", "+300000-01-01T00:00:00Z"]) {
    assert.equal(
      submissionIdFor(unusable, sha("c")),
      `${"0".repeat(13)}-${"c".repeat(32)}`,
      String(unusable),
    );
  }
});
