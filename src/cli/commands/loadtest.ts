// `fnshift loadtest`: runs a scenario of loadtest/ (same flags as `npm run loadtest --`). The load test
// lives beside src/, not in it, so it is found by URL at run time and only from a checkout.
import { CliError } from '../client.ts';

type LoadtestModule = { runLoadtest(argv: readonly string[]): Promise<number> };

/** Resolves to the same file from src/cli/commands/ and from the compiled dist/cli/commands/. */
const entry = new URL('../../../loadtest/cli.ts', import.meta.url);

export async function loadtestCommand(argv: readonly string[]): Promise<number> {
  let loadtest: LoadtestModule;
  try {
    loadtest = (await import(entry.href)) as LoadtestModule;
  } catch (error) {
    // Missing from a published package, or refused there: Node strips types only outside node_modules.
    throw new CliError(
      `fnshift loadtest runs from a checkout of fnshift (npm install, then npm run loadtest -- --help): ` +
        `${(error as Error).message}`,
      1,
    );
  }
  return loadtest.runLoadtest(argv);
}
