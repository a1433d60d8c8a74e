// Reloads the config file: validate, then swap the whole snapshot; an invalid file keeps the last good
// config and says why (log, `fnshift:config:reload` event, GET /routes). Static settings need a restart.
import { readFile } from 'node:fs/promises';
import { publishReload } from '../telemetry/events.ts';
import type { Logger } from '../telemetry/log.ts';
import { parseConfig } from './load.ts';
import type { Config } from './schema.ts';
import type { ReloadOutcome, Store } from './store.ts';
import { type ConfigWatcher, hashText, watchConfig } from './watch.ts';

/** Settings read once at start: listeners and the parser's limits. */
function staticChanges(before: Config, after: Config): string[] {
  const changed: string[] = [];
  if (before.listen !== after.listen) changed.push('listen');
  if (JSON.stringify(before.admin) !== JSON.stringify(after.admin)) changed.push('admin');
  if (JSON.stringify(before.limits) !== JSON.stringify(after.limits)) changed.push('limits');
  if (before.workers !== after.workers) changed.push('workers');
  return changed;
}

export type ReloadStatus = { at: string; trigger: string; outcome: ReloadOutcome } | undefined;

export function createReloader(options: {
  file: string;
  initialText: string;
  store: Store;
  logger: Logger;
  onApplied?: () => Promise<void>;
}) {
  const { file, store, logger } = options;
  const initial = store.config;
  let lastHash = hashText(options.initialText);
  let last: ReloadStatus;
  let lastError: { at: string; problems: string[] } | undefined;
  let watcher: ConfigWatcher | undefined;

  async function apply(text: string | undefined, trigger: string, readError?: Error): Promise<ReloadOutcome> {
    const at = new Date().toISOString();
    let outcome: ReloadOutcome;
    if (text === undefined) {
      outcome = {
        result: 'invalid',
        problems: [`cannot read ${file}: ${readError?.message ?? 'unknown error'}`],
      };
    } else if (hashText(text) === lastHash && trigger !== 'watch') {
      outcome = { result: 'unchanged' };
    } else {
      const parsed = parseConfig(text, file);
      outcome = parsed.ok ? { result: 'ok' } : { result: 'invalid', problems: parsed.problems };
      if (parsed.ok) {
        await store.applyConfig(parsed.config);
        lastHash = hashText(text);
        watcher?.remember(text);
        lastError = undefined;
        const needsRestart = staticChanges(initial, parsed.config);
        if (needsRestart.length > 0) {
          logger.warn(
            { settings: needsRestart },
            'these settings changed but take effect only after a restart',
          );
        }
        await options.onApplied?.();
      }
    }
    if (outcome.result === 'invalid') {
      lastError = { at, problems: outcome.problems ?? [] };
      logger.error(
        { trigger, problems: outcome.problems },
        'config reload refused: keeping the last good config',
      );
    } else if (outcome.result === 'ok') {
      logger.info({ trigger, routes: store.config.routes.length }, 'config reloaded');
    }
    last = { at, trigger, outcome };
    publishReload({ result: outcome.result, trigger, problems: outcome.problems });
    return outcome;
  }

  return {
    /** Re-read the file now (SIGHUP, POST /reload). */
    async reload(trigger: string): Promise<ReloadOutcome> {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        return apply(undefined, trigger, error as Error);
      }
      return apply(text, trigger);
    },
    watch(settings: Config['reload']): void {
      if (!settings.watch) return;
      watcher = watchConfig(
        {
          file,
          debounceMs: settings.debounceMs,
          pollIntervalMs: settings.pollIntervalMs,
          onChange: (text, error) => {
            apply(text, 'watch', error).catch((e: unknown) =>
              logger.error({ err: e }, 'config reload failed'),
            );
          },
        },
        options.initialText,
      );
    },
    status(): { last: ReloadStatus; lastError: typeof lastError } {
      return { last, lastError };
    },
    stop(): void {
      watcher?.stop();
    },
  };
}

export type Reloader = ReturnType<typeof createReloader>;
