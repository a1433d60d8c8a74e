#!/usr/bin/env node
// The `fnshift` bin: the TypeScript sources in a checkout, the compiled JavaScript in the package (which
// ships no src/, and Node will not strip types under node_modules). Sources first, so a dist/ left by
// `npm pack` never runs stale code in a checkout.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const entry = existsSync(sources) ? sources : new URL('../dist/cli/main.js', import.meta.url);
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);
