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
  // On a terminal Node's spec reporter already repeats the failures at the end. Elsewhere (CI) the
  // output is TAP, where a failure sits somewhere among thousands of lines: pass it through and
  // repeat every failed test, with its error, after the totals.
  { stdio: process.stdout.isTTY ? 'inherit' : ['inherit', 'pipe', 'inherit'], cwd: root },
);
const failures = child.stdout ? collectTapFailures(child.stdout) : [];
// 'close', not 'exit': the child's output may still be arriving when it has exited.
child.on('close', (code, signal) => {
  if (failures.length > 0) {
    process.stdout.write(`\n# ${failures.length} failed test(s):\n`);
    for (const f of failures)
      process.stdout.write(`\n# ✖ ${f.path.join(' › ')}\n${f.details.map((l) => `#   ${l}`).join('\n')}\n`);
  }
  process.exit(code ?? (signal ? 1 : 0));
});

/**
 * Copies a TAP stream to stdout and collects its failed tests: the names of the enclosing suites
 * and the test (from `# Subtest:` lines, nested by indentation) and the YAML details that follow
 * `not ok`. A suite that failed only because a test in it failed is left out.
 */
function collectTapFailures(stream) {
  const found = [];
  const names = [];
  let open = null; // the failure whose YAML block is being read
  let pending = '';
  stream.on('data', (chunk) => {
    process.stdout.write(chunk);
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) readLine(line);
  });
  function readLine(line) {
    const indent = line.length - line.trimStart().length;
    const depth = Math.floor(indent / 4);
    const text = line.trimStart();
    if (open) {
      if (text === '...' && indent === open.indent) {
        if (!open.details.some((l) => l.includes("failureType: 'subtestsFailed'"))) {
          found.push({ path: open.path, details: open.details.slice(0, 40) });
        }
        open = null;
      } else if (text !== '---') open.details.push(line.slice(open.indent));
      return;
    }
    const subtest = /^# Subtest: (.*)$/.exec(text);
    if (subtest) {
      names.length = depth;
      names[depth] = subtest[1];
      return;
    }
    const notOk = /^not ok \d+ - (.*?)(?: # .*)?$/.exec(text);
    if (notOk) open = { path: [...names.slice(0, depth), notOk[1]], details: [], indent: indent + 2 };
  }
  return found;
}
