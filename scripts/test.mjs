#!/usr/bin/env node
// Runs the test files (`*.test.ts`) of the given folders or files — every workspace and deploy/ when none is given —
// with Node's built-in test runner, TypeScript loaded through tsx, and workspace packages
// resolved to their sources through the `source` export condition (no build needed).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const skip = new Set(['node_modules', 'dist', '.flotilla', '.git', 'fixtures']);

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const dirs =
  args.length > 0
    ? args.map((a) => resolve(a))
    : ['packages', 'apps', 'bench', 'deploy'].map((d) => join(root, d));
const files = dirs.flatMap((d) => (statSync(d).isDirectory() ? collect(d, []) : [d])).sort();
if (files.length === 0) {
  console.error(`no test files under ${dirs.map((d) => relative(root, d) || '.').join(', ')}`);
  process.exit(1);
}

// Most suites wait on sockets and child processes rather than the CPU, so run a few more files
// at once than there are cores.
const concurrency = process.env.FLOTILLA_TEST_CONCURRENCY ?? String(Math.max(2, availableParallelism() * 2));
const child = spawn(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit', cwd: root },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
