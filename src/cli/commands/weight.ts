// `fnshift weight ROUTE PERCENT`: set one route's runtime weight on one fnshift process.
import { type AdminTarget, CliError, callAdmin } from '../client.ts';

export function parsePercent(text: string): number {
  const value = Number(text.replace(/%$/, ''));
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 100) {
    throw new CliError(`PERCENT must be a number from 0 to 100, got "${text}"`, 2);
  }
  return value;
}

export async function weightCommand(
  target: AdminTarget,
  route: string,
  percent: string,
  out: (line: string) => void,
) {
  const weight = parsePercent(percent);
  const body = (await callAdmin(target, 'PUT', `/routes/${encodeURIComponent(route)}/weight`, {
    weight,
  })) as {
    name: string;
    weight: number;
    previousWeight?: number;
  };
  out(`${body.name}: ${body.previousWeight ?? '?'}% → ${body.weight}%`);
}
