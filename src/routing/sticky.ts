// Reads a route's sticky key (header, cookie or query parameter) from a request, without throwing.
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../config/schema.ts';

const MAX_KEY_LENGTH = 256;

export function readCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  let start = 0;
  while (start < cookieHeader.length) {
    let end = cookieHeader.indexOf(';', start);
    if (end === -1) end = cookieHeader.length;
    const eq = cookieHeader.indexOf('=', start);
    if (eq !== -1 && eq < end && cookieHeader.slice(start, eq).trim() === name) {
      const value = cookieHeader.slice(eq + 1, end).trim();
      return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
    }
    start = end + 1;
  }
  return undefined;
}

/** The first value of `name` in a raw query string; malformed escapes are kept as they are. */
export function readQuery(query: string, name: string): string | undefined {
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    if (key === name) return eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
  }
  return undefined;
}

function safeDecode(text: string): string {
  const plus = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/** The key to hash, or undefined (no key → a random bucket). Over-long keys are cut, not rejected. */
export function readStickyKey(
  sticky: RouteConfig['sticky'],
  headers: IncomingHttpHeaders,
  query: string,
): string | undefined {
  if (!sticky) return undefined;
  let value: string | undefined;
  if ('header' in sticky) {
    const raw = headers[sticky.header];
    value = Array.isArray(raw) ? raw[0] : raw;
  } else if ('cookie' in sticky) {
    value = readCookie(headers.cookie, sticky.cookie);
  } else {
    value = query ? readQuery(query, sticky.query) : undefined;
  }
  if (!value) return undefined;
  const key = value.length > MAX_KEY_LENGTH ? value.slice(0, MAX_KEY_LENGTH) : value;
  return sticky.salt ? `${sticky.salt}:${key}` : key;
}
