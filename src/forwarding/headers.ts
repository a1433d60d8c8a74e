// Header hygiene both ways: hop-by-hop and Connection-listed fields dropped (RFC 9110 §7.6.1),
// X-Forwarded-* set from the socket peer unless it is a trusted proxy, our own control headers kept in.
import { isIP } from 'node:net';
import type { ProxyRequest } from './exchange.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Dropped from requests besides hop-by-hop ones: the forwarder sets Host and framing itself (a copied Host
 * or a second Content-Length smuggles), `expect` is answered by Node's server, and the
 * forwarding headers are rebuilt below.
 */
const REBUILT_REQUEST = new Set([
  'host',
  'content-length',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
]);

export const OWN_PREFIX = 'x-fnshift-';

function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  // The usual values name only fields that are hop-by-hop anyway: no set to build.
  if (!value || value === 'keep-alive' || value === 'close') return undefined;
  const names = new Set<string>();
  for (const v of Array.isArray(value) ? value : [value]) {
    for (const token of v.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) names.add(name);
    }
  }
  return names;
}

export type TrustCheck = (address: string) => boolean;

export type ForwardedContext = {
  /** The peer address of the client socket. */
  peer: string;
  isTrustedPeer: boolean;
  /** `http` or `https` as seen by the caller of fnshift. */
  proto: string;
};

/**
 * The request headers for an upstream, as a flat `[name, value, ...]` list (the forwarder writes it out as is).
 * Content-Length is restored from the parsed, validated value so framing never comes from raw bytes.
 */
export function requestHeaders(req: ProxyRequest, ctx: ForwardedContext): string[] {
  const raw = req.rawHeaders;
  const listed = connectionListed(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || REBUILT_REQUEST.has(name) || name.startsWith(OWN_PREFIX)) continue;
    if (listed?.has(name)) continue;
    out.push(name, raw[i + 1]!);
  }
  const length = req.headers['content-length'];
  if (length !== undefined) out.push('content-length', length);
  out.push(...forwardedFields(req, ctx));
  return out;
}

/**
 * X-Forwarded-For, -Proto and -Host as `[name, value, ...]`: the client's own values are kept only from a
 * trusted proxy (the peer is appended to its For); from anyone else they are replaced by what fnshift saw.
 */
export function forwardedFields(req: Pick<ProxyRequest, 'headers'>, ctx: ForwardedContext): string[] {
  const host = req.headers.host ?? '';
  const clientXff = ctx.isTrustedPeer ? req.headers['x-forwarded-for'] : undefined;
  return [
    'x-forwarded-for',
    clientXff ? `${clientXff}, ${ctx.peer}` : ctx.peer,
    'x-forwarded-proto',
    (ctx.isTrustedPeer && firstValue(req.headers['x-forwarded-proto'])) || ctx.proto,
    'x-forwarded-host',
    (ctx.isTrustedPeer && firstValue(req.headers['x-forwarded-host'])) || host,
  ];
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Response fields from an upstream (a flat `[name, value, ...]` list with lower-case names), minus
 * hop-by-hop fields and those its Connection field lists.
 */
export function responseHeaders(fields: readonly string[], connection: string | undefined): string[] {
  const listed = connectionListed(connection);
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out.push(name, fields[i + 1]!);
  }
  return out;
}

/** A trust check over exact addresses and CIDR blocks (IPv4, and IPv4-mapped IPv6 peers). */
export function createTrustCheck(entries: readonly string[]): TrustCheck {
  if (entries.length === 0) return () => false;
  const exact = new Set<string>();
  const v4Blocks: Array<{ base: number; mask: number }> = [];
  const v6Prefixes: Array<{ bits: number; words: number[] }> = [];
  for (const entry of entries) {
    const [ip = '', bitsText] = entry.split('/');
    if (isIP(ip) === 4) {
      const bits = bitsText === undefined ? 32 : Number(bitsText);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      v4Blocks.push({ base: (ipv4ToInt(ip) & mask) >>> 0, mask });
    } else if (bitsText === undefined) {
      exact.add(ip.toLowerCase());
    } else {
      v6Prefixes.push({ bits: Number(bitsText), words: ipv6Words(ip) });
    }
  }
  return (address) => {
    const addr = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    if (exact.has(addr.toLowerCase())) return true;
    if (isIP(addr) === 4) {
      const n = ipv4ToInt(addr);
      return v4Blocks.some((b) => (n & b.mask) >>> 0 === b.base);
    }
    if (isIP(addr) === 6) {
      const words = ipv6Words(addr);
      return v6Prefixes.some((p) => prefixEqual(words, p.words, p.bits));
    }
    return false;
  };
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => ((acc << 8) | Number(octet)) >>> 0, 0);
}

function ipv6Words(ip: string): number[] {
  const [head = '', tail = ''] = ip.split('::');
  const parse = (s: string) => (s ? s.split(':').map((w) => Number.parseInt(w, 16) || 0) : []);
  const h = parse(head);
  const t = ip.includes('::') ? parse(tail) : [];
  return [...h, ...new Array(Math.max(0, 8 - h.length - t.length)).fill(0), ...t].slice(0, 8);
}

function prefixEqual(a: number[], b: number[], bits: number): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if (((a[i] ?? 0) & mask) !== ((b[i] ?? 0) & mask)) return false;
  }
  return true;
}
