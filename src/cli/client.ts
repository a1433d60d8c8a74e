// The CLI's admin client: URL and token from flags or env, problem+json answers surfaced as they came.
import { request } from 'undici';

export type AdminTarget = { url: string; token: string | undefined };

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function adminTarget(flags: { admin?: string; token?: string }): AdminTarget {
  const url = flags.admin ?? process.env.FNSHIFT_ADMIN_URL ?? 'http://127.0.0.1:9901';
  if (!URL.canParse(url)) throw new CliError(`--admin: not a URL: ${url}`, 2);
  return { url: url.replace(/\/$/, ''), token: flags.token ?? process.env.FNSHIFT_ADMIN_TOKEN };
}

export async function callAdmin(
  target: AdminTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(`${target.url}${path}`, {
      method: method as 'GET',
      headers: {
        // Every mutation says JSON, bodiless ones too: the admin API refuses one that does not.
        ...(method === 'GET' ? {} : { 'content-type': 'application/json' }),
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
  } catch (error) {
    throw new CliError(`cannot reach the admin API at ${target.url}: ${(error as Error).message}`, 1);
  }
  const text = await response.body.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {}
  if (response.statusCode >= 400) {
    const problem = parsed as
      | { code?: string; detail?: string; title?: string; problems?: string[] }
      | undefined;
    const lines = [
      `${response.statusCode} ${problem?.code ?? ''}: ${problem?.detail ?? problem?.title ?? text}`.trim(),
    ];
    for (const p of problem?.problems ?? []) lines.push(`  ${p}`);
    throw new CliError(lines.join('\n'), response.statusCode === 400 ? 2 : 1);
  }
  return parsed;
}
