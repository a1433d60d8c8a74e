// `fnshift rollout start|pause|resume|abort|promote ROUTE` and `fnshift reload`.
import { type RolloutAction, rolloutActions } from '../../rollout/controller.ts';
import { type AdminTarget, CliError, callAdmin } from '../client.ts';

export async function rolloutCommand(
  target: AdminTarget,
  action: string,
  route: string,
  out: (line: string) => void,
) {
  if (!(rolloutActions as readonly string[]).includes(action)) {
    throw new CliError(`ACTION must be one of ${rolloutActions.join(', ')}, got "${action}"`, 2);
  }
  const body = (await callAdmin(target, 'POST', `/routes/${encodeURIComponent(route)}/rollout`, {
    action: action as RolloutAction,
  })) as { rollout: { status: string; weightPercent: number; stepIndex: number } };
  out(
    `${route}: rollout ${body.rollout.status} at ${body.rollout.weightPercent}% (step ${body.rollout.stepIndex + 1})`,
  );
}

export async function reloadCommand(target: AdminTarget, out: (line: string) => void) {
  const body = (await callAdmin(target, 'POST', '/reload')) as { result: string };
  out(body.result === 'unchanged' ? 'config unchanged' : 'config reloaded');
}
