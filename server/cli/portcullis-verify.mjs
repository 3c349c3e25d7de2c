#!/usr/bin/env node
// The `portcullis-verify` bin: runs the TypeScript verifier through tsx (a dependency).
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { runVerifyCli } = await import('./verify-evidence.ts');
process.exit(await runVerifyCli(process.argv.slice(2)));
