/** Record ids: ULIDs, time-ordered and monotonic within a millisecond so listings keep arrival order. */
import { monotonicFactory } from "ulid";

export const newId: () => string = monotonicFactory();
