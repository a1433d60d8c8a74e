// Watches the config file's directory, not the file: inotify follows inodes, and a ConfigMap update
// (an atomic `..data` symlink swap) or an editor's save (write a temp file, rename it over) replaces
// the inode. Events are debounced; content is compared by hash so only real changes reload.
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type WatchOptions = {
  file: string;
  debounceMs: number;
  pollIntervalMs: number;
  /** Called with the new text when the file's content changed, or with an error when it cannot be read. */
  onChange: (text: string | undefined, error?: Error) => void;
};

export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** How much longer than `debounceMs` a burst of events may hold a reload back. */
export const MAX_WAIT_FACTOR = 5;

/**
 * A trailing debounce with a ceiling: `run` waits for `debounceMs` without events, but never longer than
 * `maxWaitMs` after the first event of a burst. Without the ceiling a directory that never goes quiet
 * (a config rewritten 10×/s against the default 200 ms) starved reloads: 1 applied out of 47 rewrites.
 */
export function createDebounce(run: () => void, debounceMs: number, maxWaitMs: number) {
  let timer: NodeJS.Timeout | undefined;
  let burstStartMs: number | undefined;
  const fire = () => {
    timer = undefined;
    burstStartMs = undefined;
    run();
  };
  return {
    trigger(): void {
      const nowMs = Date.now();
      burstStartMs ??= nowMs;
      clearTimeout(timer);
      timer = setTimeout(fire, Math.max(0, Math.min(debounceMs, burstStartMs + maxWaitMs - nowMs)));
      timer.unref();
    },
    cancel(): void {
      clearTimeout(timer);
      timer = undefined;
      burstStartMs = undefined;
    },
  };
}

export function watchConfig(options: WatchOptions, initialText: string) {
  let lastHash = hashText(initialText);
  const debounce = createDebounce(
    () => void check(),
    options.debounceMs,
    options.debounceMs * MAX_WAIT_FACTOR,
  );
  let watcher: FSWatcher | undefined;
  let isStopped = false;
  const dir = dirname(options.file);

  // Checks run one after another: two overlapping reads finishing out of order could apply an older file last.
  let running: Promise<void> = Promise.resolve();
  function check(): Promise<void> {
    running = running.then(checkOnce, checkOnce);
    return running;
  }

  async function checkOnce(): Promise<void> {
    let text: string;
    try {
      // readFile follows the symlink chain (fnshift.yaml → ..data/fnshift.yaml → ..2026_…/fnshift.yaml).
      text = await readFile(options.file, 'utf8');
    } catch (error) {
      if (!isStopped) options.onChange(undefined, error as Error);
      return;
    }
    const hash = hashText(text);
    if (hash === lastHash || isStopped) return;
    lastHash = hash;
    options.onChange(text);
  }

  function start(): void {
    try {
      // A ConfigMap swap touches `..data`, an editor its own temp names, and some platforms give no name
      // at all: any event in the directory may be ours, and the content hash decides.
      watcher = watch(dir, { persistent: false }, debounce.trigger);
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined;
    }
  }

  start();
  const poll =
    options.pollIntervalMs > 0 ? setInterval(() => void check(), options.pollIntervalMs) : undefined;
  poll?.unref();

  return {
    /** Re-read now (SIGHUP, POST /reload) and report whether anything changed. */
    async checkNow(): Promise<void> {
      await check();
    },
    /** After a reload that did not come from the watcher, remember the content in force. */
    remember(text: string): void {
      lastHash = hashText(text);
    },
    stop(): void {
      isStopped = true;
      debounce.cancel();
      clearInterval(poll);
      watcher?.close();
    },
  };
}

export type ConfigWatcher = ReturnType<typeof watchConfig>;
