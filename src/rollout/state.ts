// The state file: runtime weights and rollout progress that must survive a restart. Written atomically
// (temp file, fsync, rename, fsync of the directory) before an admin change is acknowledged.
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { FnshiftError } from '../errors.ts';

const weightOverride = z.strictObject({
  weightPercent: z.number().min(0).max(100),
  /** Who set it: an operator through the admin API, or the rollout controller. */
  source: z.enum(['admin', 'rollout']),
  /** The config's weight when the override was set: a later edit of that value in the config wins. */
  configWeightPercent: z.number().min(0).max(100),
  setAt: z.string(),
});

export const rolloutStatus = z.enum(['idle', 'progressing', 'paused', 'succeeded', 'failed', 'aborted']);

const rolloutRecord = z.strictObject({
  status: rolloutStatus,
  /** Index into the step list of the weight in force. -1 before the first step. */
  stepIndex: z.number().int().min(-1),
  weightPercent: z.number().min(0).max(100),
  failedChecks: z.number().int().min(0),
  /** When the current step started (ISO); a restart resumes the interval from here. */
  stepStartedAt: z.string(),
  lastCheck: z
    .strictObject({
      at: z.string(),
      result: z.enum(['pass', 'fail', 'inconclusive']),
      detail: z.string(),
    })
    .optional(),
});

export const stateSchema = z.strictObject({
  version: z.literal(1),
  weights: z.record(z.string(), weightOverride),
  rollouts: z.record(z.string(), rolloutRecord),
});

export type WeightOverride = z.infer<typeof weightOverride>;
export type RolloutRecord = z.infer<typeof rolloutRecord>;
export type RolloutStatus = z.infer<typeof rolloutStatus>;
export type State = z.infer<typeof stateSchema>;

export function emptyState(): State {
  return { version: 1, weights: {}, rollouts: {} };
}

export type LoadResult = { state: State; warning?: string };

/**
 * A missing file is a fresh start. A corrupt one is reported and ignored, so the config alone rules; it is
 * first moved aside, not left for the next admin change to overwrite, so whoever reads the warning can
 * still see what was in it.
 */
export async function loadState(file: string): Promise<LoadResult> {
  await removeStaleTempFiles(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState() };
    return { state: emptyState(), warning: `cannot read state file ${file}: ${(error as Error).message}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return ignoreCorrupt(file, `is not JSON (${(error as Error).message})`);
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return ignoreCorrupt(file, `is invalid (${issue?.path.join('.') || 'top level'}: ${issue?.message})`);
  }
  return { state: parsed.data };
}

async function ignoreCorrupt(file: string, problem: string): Promise<LoadResult> {
  // A name of its own, so that an earlier corrupt file kept here is never replaced by this one.
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const aside = `${file}.corrupt-${stamp}-${randomBytes(3).toString('hex')}`;
  let kept: string;
  try {
    await rename(file, aside);
    kept = `moved to ${aside}`;
  } catch (error) {
    kept = `left in place, not moved aside: ${(error as Error).message}`;
  }
  return {
    state: emptyState(),
    warning: `state file ${file} ${problem}; using the config's weights (${kept})`,
  };
}

/** Temp files left by a process killed mid-write; only ours (same name pattern) are removed. */
async function removeStaleTempFiles(file: string): Promise<void> {
  const prefix = `.${basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(file));
  } catch {
    return;
  }
  await Promise.all(
    names
      .filter((name) => name.startsWith(prefix) && name.endsWith('.tmp'))
      .map((name) => unlink(join(dirname(file), name)).catch(() => {})),
  );
}

/**
 * Replaces the file so that a crash at any instant leaves the old or the new content, never a mix:
 * rename(2) is atomic within a directory, and the fsyncs order the data before the rename on disk.
 */
export async function writeStateAtomic(file: string, state: State): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const text = `${JSON.stringify(state, null, 2)}\n`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (cause) {
    await unlink(temp).catch(() => {});
    throw new FnshiftError(
      'FNSHIFT_STATE_WRITE_FAILED',
      `cannot write ${file}: ${(cause as Error).message}`,
      { cause },
    );
  }
}
