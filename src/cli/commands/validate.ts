// `fnshift validate -c FILE`: exit 0 on a good file, 2 with every problem listed on a bad one.
import { readFile } from 'node:fs/promises';
import { parseConfig } from '../../config/load.ts';
import { CliError } from '../client.ts';

export async function validateCommand(file: string, out: (line: string) => void): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, 2);
  }
  const result = parseConfig(text, file);
  if (!result.ok) {
    throw new CliError(
      `${file} is invalid (${result.problems.length} problem${result.problems.length > 1 ? 's' : ''}):\n  ${result.problems.join('\n  ')}`,
      2,
    );
  }
  const { routes, functions } = result.config;
  out(`${file} is valid: ${routes.length} route(s), ${Object.keys(functions).length} function(s)`);
  for (const r of routes)
    out(`  ${r.name}: ${r.match.pathPrefix ?? r.match.path} → ${r.function} at ${r.weight}%`);
}
