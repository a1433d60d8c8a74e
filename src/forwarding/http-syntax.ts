// RFC 9110 field syntax shared by fnshift's two HTTP parsers (the upstream response parser and the fast
// lane's request head). Loops over char codes: these run for every header of every proxied request.

/** tchar (RFC 9110 §5.6.2), indexed by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/**
 * A field name or method: one or more tchar, in `text` from `start` to `end` (the whole string by
 * default; ranges let the parsers check a line without slicing it). A leading SP or HTAB (obs-fold)
 * fails here too.
 */
export function isToken(text: string, start = 0, end = text.length): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || TCHAR[code] === 0) return false;
  }
  return true;
}

/**
 * Strips optional whitespace, which is SP and HTAB only (RFC 9110 §5.6.3). String#trim would also strip
 * VT, FF, CR, LF and NBSP, and so accept values that other parsers refuse or read differently.
 */
export function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** `text` from `start` to `end` without the optional whitespace at either end: one slice, no other string. */
export function owsTrimmedSlice(text: string, start: number, end: number): string {
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/** A control byte other than HTAB (NUL, CR, LF, DEL, ...): never valid in a field value or reason phrase. */
export function hasControlByte(text: string, start = 0, end = text.length): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if ((code < 32 && code !== 9) || code === 127) return true;
  }
  return false;
}

/** What Node will write in a field value or reason phrase: no control byte but HTAB, nothing above 0xFF. */
export function isSendableValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 32 && code !== 9) || code === 127 || code > 255) return false;
  }
  return true;
}

/** Only visible ASCII, SP and HTAB: what the fast lane takes without asking Node's parser. */
export function isPlainAscii(text: string, start = 0, end = text.length): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if ((code < 32 && code !== 9) || code > 126) return false;
  }
  return true;
}
