import assert from "node:assert/strict";
import { History, type Sample } from "./history.ts";

const sample = (atMs: number, over: Partial<Sample> = {}): Sample => ({
  atMs,
  available: true,
  processed: 0,
  entriesAdded: 0,
  p50: 1,
  p99: 2,
  lag: 0,
  pending: 0,
  deadLetters: 0,
  ...over,
});

Deno.test("History: rates per second from two refreshes in a row", () => {
  const h = new History(10);
  const first = h.add(sample(1000, { processed: 100, entriesAdded: 150 }));
  assert.equal(first.confirmed, null);
  assert.equal(first.enqueued, null);
  assert.equal(first.t, 1);
  const second = h.add(sample(1500, { processed: 150, entriesAdded: 250, lag: 7, pending: 3 }));
  assert.equal(second.confirmed, 100);
  assert.equal(second.enqueued, 200);
  assert.deepEqual([second.lag, second.pending, second.p50, second.p99], [7, 3, 1, 2]);
});

Deno.test("History: an outage is a gap, a counter reset no negative rate", () => {
  const h = new History(10);
  h.add(sample(0, { processed: 100, entriesAdded: 100 }));
  const down = h.add(sample(1000, { available: false }));
  assert.deepEqual(
    [down.enqueued, down.confirmed, down.p50, down.p99, down.lag, down.pending, down.deadLetters],
    [null, null, null, null, null, null, null],
  );
  // Back: no rate across the outage.
  assert.equal(h.add(sample(2000, { processed: 200, entriesAdded: 200 })).confirmed, null);
  const reset = h.add(sample(3000, { processed: 5, entriesAdded: 210 }));
  assert.equal(reset.confirmed, null);
  assert.equal(reset.enqueued, 10);
});

Deno.test("History keeps the last `capacity` points, oldest first", () => {
  const h = new History(3);
  for (let i = 0; i < 5; i++) h.add(sample(i * 1000));
  assert.deepEqual(h.points().map((p) => p.t), [2, 3, 4]);
  assert.throws(() => new History(1), RangeError);
});
