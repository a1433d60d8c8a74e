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

export function watchConfig(options: WatchOptions, initialText: string) {
  let lastHash = hashText(initialText);
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let isStopped = false;
  const dir = dirname(options.file);

  async function check(): Promise<void> {
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

  function schedule(): void {
    clearTimeout(debounce);
    debounce = setTimeout(() => void check(), options.debounceMs);
    debounce.unref();
  }

  function start(): void {
    try {
      // A ConfigMap swap touches `..data`, an editor its own temp names, and some platforms give no name
      // at all: any event in the directory may be ours, and the content hash decides.
      watcher = watch(dir, { persistent: false }, schedule);
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
      clearTimeout(debounce);
      clearInterval(poll);
      watcher?.close();
    },
  };
}

export type ConfigWatcher = ReturnType<typeof watchConfig>;
