// Parse fnshift.yaml text into a validated, deeply frozen Config, or a list of every problem found.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { FnshiftError } from '../errors.ts';
import { type Config, configSchema } from './schema.ts';

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** `routes[0].weight` from a zod issue path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `${formatPath(issue.path)}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    return `${formatPath(issue.path)}: is required (${issue.expected})`;
  }
  return `${formatPath(issue.path)}: ${issue.message}`;
}

export function parseConfig(text: string, source = 'config'): ConfigResult {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, problems: doc.errors.map((e) => `${source}: YAML ${e.message.split('\n')[0]}`) };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Unresolved aliases and alias bombs surface only here.
    return { ok: false, problems: [`${source}: YAML ${(error as Error).message}`] };
  }
  return validateConfig(raw ?? {});
}

export function validateConfig(raw: unknown): ConfigResult {
  const result = configSchema.safeParse(raw);
  if (!result.success) return { ok: false, problems: result.error.issues.map(describeIssue) };
  return { ok: true, config: deepFreeze(result.data) };
}

/** Reads and validates a config file; the text is kept so reloads can tell a real change. */
export async function loadConfigFile(file: string): Promise<{ config: Config; text: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new FnshiftError('FNSHIFT_CONFIG_INVALID', `cannot read ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const result = parseConfig(text, file);
  if (!result.ok) {
    throw new FnshiftError(
      'FNSHIFT_CONFIG_INVALID',
      `${file} is invalid:\n  ${result.problems.join('\n  ')}`,
      {
        details: { problems: result.problems },
      },
    );
  }
  return { config: result.config, text };
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
