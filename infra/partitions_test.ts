import assert from "node:assert/strict";
import keySlot from "cluster-key-slot";
import {
  CLUSTER_SLOTS,
  fnv1a32,
  layoutKeys,
  ownedPartitions,
  parseShare,
  partitionOf,
  partitionTags,
  responseKeysOf,
} from "./partitions.ts";
import { streamKeys } from "@fastpix/pix";

Deno.test("partition tags: slots evenly spaced, one per master range of a 3-master cluster", () => {
  const masterOf = (slot: number) => slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
  assert.deepEqual(partitionTags(3).map((t) => masterOf(keySlot(t))), [0, 1, 2]);
  assert.deepEqual(partitionTags(6).map((t) => masterOf(keySlot(t))), [0, 0, 1, 1, 2, 2]);
  for (const count of [1, 2, 3, 5, 8, 64, 256]) {
    const width = CLUSTER_SLOTS / count;
    partitionTags(count).forEach((tag, i) => {
      const slot = keySlot(tag);
      assert.ok(slot >= i * width && slot < (i + 1) * width, `${tag} of ${count}: slot ${slot}`);
    });
  }
  // Naive tags "0","1","2" would not spread: that is why the tags are searched for.
  assert.deepEqual(partitionTags(3), ["p0.12", "p1.0", "p2.0"]);
  assert.throws(() => partitionTags(0), RangeError);
});

Deno.test("every key of a partition hashes to the partition's slot", () => {
  for (const tag of partitionTags(4)) {
    const k = streamKeys("pix_payments", tag);
    const slots = new Set(
      [k.stream, k.dlq, k.processedCount, k.totalAmount, k.totalAmountCents, `${k.markPrefix}tx-1`]
        .concat(responseKeysOf({ partitions: 4, routeBy: "backend" }, "resp_", "any"))
        .filter((key) => key.includes(`{${tag}}`))
        .map((key) => keySlot(key)),
    );
    assert.equal(slots.size, 1);
    assert.equal([...slots][0], keySlot(tag));
  }
  // Unpartitioned: exactly the single-node names.
  assert.deepEqual(layoutKeys({ stream: "pix_payments", partitions: 0 }), [{
    stream: "pix_payments",
    dlq: "pix_payments:dlq",
    processedCount: "processed_count",
    totalAmount: "total_amount",
    totalAmountCents: "total_amount_cents",
    markPrefix: "pix:done:",
  }]);
});

Deno.test("routing: stable FNV-1a, by transaction (even) or by backend (one partition each)", () => {
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c); // the published FNV-1a 32 test vector
  const layout = { stream: "s", partitions: 3, routeBy: "transaction" as const };
  const counts = [0, 0, 0];
  for (let i = 0; i < 30_000; i++) {
    counts[partitionOf(layout, { transaction_id: `tx-${i}`, backend_id: "1" })]++;
  }
  for (const c of counts) assert.ok(c > 9_000 && c < 11_000, `uneven spread ${counts}`);
  const byBackend = { ...layout, routeBy: "backend" as const };
  const parts = new Set(
    Array.from(
      { length: 50 },
      (_, i) => partitionOf(byBackend, { transaction_id: `t${i}`, backend_id: "7" }),
    ),
  );
  assert.equal(parts.size, 1);
  assert.equal(responseKeysOf(byBackend, "r_", "7").length, 1);
  assert.equal(responseKeysOf(layout, "r_", "7").length, 3);
  assert.equal(
    partitionOf({ ...layout, partitions: 0 }, { transaction_id: "x", backend_id: "1" }),
    0,
  );
});

Deno.test("ownership: consumers take several partitions or share one; together they cover all", () => {
  assert.deepEqual(ownedPartitions(6), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(ownedPartitions(6, { index: 1, of: 4 }), [1, 5]);
  assert.deepEqual(ownedPartitions(3, { index: 4, of: 5 }), [1]);
  for (const [count, of] of [[3, 1], [3, 2], [3, 3], [3, 7], [8, 3]]) {
    const covered = new Set(
      Array.from({ length: of }, (_, index) => ownedPartitions(count, { index, of })).flat(),
    );
    assert.equal(covered.size, count);
  }
  assert.deepEqual(ownedPartitions(0, { index: 1, of: 2 }), [0]);
  assert.deepEqual(parseShare("2/3"), { index: 2, of: 3 });
  assert.throws(() => parseShare("3/3"), /0 <= i < n/);
  assert.throws(() => parseShare("x"), /expected i\/n/);
});
