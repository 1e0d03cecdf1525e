// Writes docs/api.md, the shop's public API reference, from the gateway configuration, the zod
// contracts and the table in api-docs-*.ts; refuses while an example does not parse or a route
// is missing. `--check` writes nothing and fails when docs/api.md is not what it would write.
//
//   node --conditions=source --import tsx apps/shop/scripts/api-docs.ts [--check]
//   npm run docs:api -w @flotilla/shop [-- --check]
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_DOC_PATH, buildApiDoc } from './api-docs-build.js';

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--check');
if (unknown.length > 0) {
  console.error(`api-docs: unknown argument ${unknown.join(' ')}; usage: api-docs.ts [--check]`);
  process.exit(2);
}
const check = args.includes('--check');
const target = relative(fileURLToPath(new URL('../../../', import.meta.url)), API_DOC_PATH);
const { markdown, issues } = buildApiDoc();
if (issues.length > 0) {
  console.error(`api-docs: the table does not match the gateway or the contracts:\n  ${issues.join('\n  ')}`);
  process.exit(1);
}
if (check) {
  let current = '';
  try {
    current = readFileSync(API_DOC_PATH, 'utf8');
  } catch {}
  if (current !== markdown) {
    console.error(`api-docs: ${target} is out of date; run npm run docs:api -w @flotilla/shop`);
    process.exit(1);
  }
  console.log(`api-docs: ${target} is up to date`);
} else {
  writeFileSync(API_DOC_PATH, markdown);
  console.log(`api-docs: wrote ${target}`);
}
