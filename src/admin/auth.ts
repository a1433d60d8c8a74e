// The admin token: from a file (a mounted Secret) or an env var, never from the YAML; compared in
// constant time over fixed-length digests so neither content nor length leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/schema.ts';
import { FnshiftError } from '../errors.ts';

export function readToken(admin: Config['admin'], env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (admin.tokenFile) {
    const token = readFileSync(admin.tokenFile, 'utf8').trim();
    if (!token)
      throw new FnshiftError('FNSHIFT_CONFIG_INVALID', `admin.tokenFile ${admin.tokenFile} is empty`);
    return token;
  }
  const token = env[admin.tokenEnv]?.trim();
  return token || undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Throws 401 unless the request carries `Authorization: Bearer <token>`; a no-op without a token. */
export function requireToken(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) return;
  const header = req.headers.authorization ?? '';
  // The scheme name is case-insensitive (RFC 9110 §11.1): `bearer x` is as valid as `Bearer x`.
  const presented = /^bearer /i.test(header) ? header.slice(7).trim() : '';
  if (!presented || !timingSafeEqual(digest(presented), digest(token))) {
    throw new FnshiftError('FNSHIFT_UNAUTHORIZED', 'changes need "Authorization: Bearer <token>"');
  }
}
