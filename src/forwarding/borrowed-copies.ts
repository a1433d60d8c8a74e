// Copies of borrowed bytes (an upstream read, valid only during the call) for a caller's socket that may
// queue them. Large copies go into 64 KiB slabs from a small free list and come back once the socket has
// flushed them. Why: a fresh copy per read is garbage the moment the kernel has it, and V8 frees such
// memory, outside its heap, only after about 64 MiB of it has piled up: a cold fnshift relaying a 200 MiB
// download grew by that much, and a streamed response costs a garbage collection every 64 MiB.

const SLAB_BYTES = 64 * 1024;
/**
 * Below this a copy is Node's own (small ones share Buffer's 8 KiB pool): a slab queued on a slow socket
 * holds 64 KiB whatever it carries, and a few bytes must not pin that much.
 */
const MIN_SLAB_COPY_BYTES = 16 * 1024;
/** Slabs kept for reuse at most (4 MiB); more in use at once are left to the GC when they come back. */
const MAX_FREE_SLABS = 64;

const freeSlabs: ArrayBuffer[] = [];
/** Slab copies handed out and not yet recycled. */
let slabsInUse = 0;

/** What `recycle` takes back: slab views are recognised by their backing store. */
const slabs = new WeakSet<ArrayBuffer>();

/**
 * A copy of `bytes` to hand to a socket. Give it to `recycle` from the write's callback, and only from
 * there: that is when the socket no longer reads it.
 */
export function copyBorrowed(bytes: Buffer): Buffer {
  if (bytes.length < MIN_SLAB_COPY_BYTES || bytes.length > SLAB_BYTES) return Buffer.from(bytes);
  let slab = freeSlabs.pop();
  if (slab === undefined) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabs.add(slab);
  }
  slabsInUse++;
  const copy = Buffer.from(slab, 0, bytes.length);
  bytes.copy(copy);
  return copy;
}

/** Takes back a copy made by `copyBorrowed` once nothing reads it any more; other buffers are ignored. */
export function recycle(copy: Buffer): void {
  const slab = copy.buffer;
  if (!(slab instanceof ArrayBuffer) || !slabs.has(slab)) return;
  slabsInUse--;
  if (freeSlabs.length < MAX_FREE_SLABS) freeSlabs.push(slab);
}

/** Slabs waiting for reuse, and slab copies not yet recycled (tests: every copy must come back). */
export function slabCounts(): { free: number; inUse: number } {
  return { free: freeSlabs.length, inUse: slabsInUse };
}
