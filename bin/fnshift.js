#!/usr/bin/env node
// The `fnshift` bin: compiled JavaScript when installed from the package, the TypeScript sources in a checkout.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const entry = existsSync(compiled) ? compiled : new URL('../src/cli/main.ts', import.meta.url);
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);
