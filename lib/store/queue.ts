/**
 * The KV queue itself: the one listener a process registers, and a probe of the queue's bare
 * delivery rate (what the benchmark compares processing against). Messages are written with their
 * batch (`batches.ts`).
 */

/** Starts the process's single queue listener; resolves when KV is closed. */
export function listenQueue(kv: Deno.Kv, handler: (message: unknown) => Promise<void> | void): Promise<void> {
  return kv.listenQueue(handler);
}

/** Enqueues `n` empty messages and measures how fast a listener that does nothing drains them (messages/s). */
export async function noopDrainRate(kv: Deno.Kv, n: number): Promise<number> {
  for (let i = 0; i < n; i += 500) {
    const op = kv.atomic();
    for (let j = i; j < Math.min(n, i + 500); j++) op.enqueue({ probe: j });
    await op.commit();
  }
  let seen = 0;
  const drained = Promise.withResolvers<void>();
  const started = performance.now();
  const listener = kv.listenQueue(() => {
    if (++seen === n) drained.resolve();
  });
  await drained.promise;
  const seconds = (performance.now() - started) / 1000;
  kv.close();
  await listener;
  return n / seconds;
}
