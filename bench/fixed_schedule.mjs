// The fixed offered load of the load benchmarks (ingest_load.mjs, otel_load.mjs): request k is due
// at start + k * (perRequest / perSecond) seconds and is sent by whichever client is free then.
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

//! Without a rate (perSecond null or 0) every request is due at once and nothing is counted.
export function fixedSchedule(perSecond, perRequest) {
  const slotMs = perSecond ? (perRequest / perSecond) * 1000 : 0;
  let start = 0;
  let next = 0;
  return {
    paced: slotMs > 0,
    lateStarts: 0, // requests sent more than 5 ms after they were due (every client busy)
    //! Where slot 0 is due; call when the load starts.
    start(at) {
      start = at;
    },
    //! Waits for the next slot and returns its due time (performance.now() scale), or null
    //! without a rate.
    async take() {
      if (!slotMs) return null;
      const due = start + next++ * slotMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -5) this.lateStarts++;
      return due;
    },
  };
}
