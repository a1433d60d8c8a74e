// Copies of borrowed bytes: equal to the source and independent of it, slabs only for large copies, and a
// slab handed back is handed out again (the relay's use of them, against a stalled caller, is in
// forward.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyBorrowed, recycle, slabCounts } from '../../src/forwarding/borrowed-copies.ts';

const KiB = 1024;

function bytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

test('a copy holds the bytes as they were, whatever happens to the source after', () => {
  for (const length of [1, 3 * KiB, 16 * KiB, 64 * KiB, 64 * KiB + 1]) {
    const source = bytes(length, 7);
    const expected = Buffer.from(source);
    const copy = copyBorrowed(source);
    source.fill(0);
    assert.ok(copy.equals(expected), `a ${length}-byte copy changed with its source`);
    recycle(copy);
  }
});

test('a slab handed back is the next one handed out; small and oversized copies are not slabs', () => {
  // Drain the free list so the counts below start from a known state.
  const held: Buffer[] = [];
  while (slabCounts().free > 0) held.push(copyBorrowed(bytes(32 * KiB, 1)));
  const first = copyBorrowed(bytes(20 * KiB, 2));
  recycle(first);
  assert.equal(slabCounts().free, 1);
  const second = copyBorrowed(bytes(30 * KiB, 3));
  assert.equal(second.buffer, first.buffer, 'the recycled slab was not reused');
  assert.equal(slabCounts().free, 0);
  assert.ok(second.equals(bytes(30 * KiB, 3)));

  recycle(copyBorrowed(bytes(8 * KiB, 4)));
  recycle(copyBorrowed(bytes(64 * KiB + 1, 5)));
  recycle(Buffer.alloc(64 * KiB));
  assert.equal(slabCounts().free, 0, 'a buffer that is not a slab went into the free list');
  recycle(second);
  for (const copy of held) recycle(copy);
});

test('the free list keeps at most 64 slabs, whatever comes back', () => {
  const inUse = slabCounts().inUse;
  const copies = Array.from({ length: 100 }, (_, i) => copyBorrowed(bytes(40 * KiB, i)));
  assert.equal(slabCounts().inUse, inUse + 100);
  for (const copy of copies) recycle(copy);
  assert.deepEqual(slabCounts(), { free: 64, inUse });
});
