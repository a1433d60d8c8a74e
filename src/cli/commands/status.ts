// `fnshift status`: the route table as the admin API reports it, as a readable table or --json.
import { type AdminTarget, callAdmin } from '../client.ts';

type RouteRow = Record<string, unknown> & { name: string; function: string; weight: number };

export function formatTable(rows: ReadonlyArray<Record<string, string>>, columns: readonly string[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.toUpperCase())),
    ...rows.map((r) => line(columns.map((c) => r[c] ?? ''))),
  ].join('\n');
}

function rolloutCell(rollout: { status?: string; stepIndex?: number; steps?: number[] }): string {
  const status = rollout.status ?? 'idle';
  if (rollout.stepIndex === undefined || !rollout.steps) return status;
  return `${status} (step ${rollout.stepIndex + 1}/${rollout.steps.length})`;
}

export async function statusCommand(
  target: AdminTarget,
  isJson: boolean,
  out: (line: string) => void,
): Promise<void> {
  const body = (await callAdmin(target, 'GET', '/routes')) as { routes: RouteRow[] };
  if (isJson) return out(JSON.stringify(body, null, 2));
  const rows = body.routes.map((r) => ({
    route: r.name,
    function: r.function,
    weight: `${r.weight}%`,
    source: String(r.weightSource ?? 'config'),
    breaker: String(r.breaker ?? ''),
    rollout: r.rollout
      ? rolloutCell(
          r.rollout as { status?: string; weightPercent?: number; stepIndex?: number; steps?: number[] },
        )
      : '-',
  }));
  out(formatTable(rows, ['route', 'function', 'weight', 'source', 'breaker', 'rollout']));
}
