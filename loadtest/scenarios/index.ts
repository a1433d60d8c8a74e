// Every scenario by name, in the order `--scenario all` runs them.
import type { Scenario } from '../scenario.ts';
import { baseline } from './baseline.ts';
import { outage } from './outage.ts';
import { overhead } from './overhead.ts';
import { reloadStorm } from './reload-storm.ts';
import { rollout } from './rollout.ts';
import { shiftSweep } from './shift-sweep.ts';

export const scenarios: readonly Scenario[] = Object.freeze([
  baseline,
  overhead,
  shiftSweep,
  rollout,
  outage,
  reloadStorm,
]);

export const scenarioNames: readonly string[] = scenarios.map((s) => s.name);

export function findScenario(name: string): Scenario | undefined {
  return scenarios.find((s) => s.name === name);
}
