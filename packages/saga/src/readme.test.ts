import { describe } from 'node:test';
import { fileURLToPath } from 'node:url';
// @ts-expect-error a plain ESM test helper without type declarations
import { testReadmeExamples } from '../../../scripts/readme-examples.mjs';

describe('README', () => {
  testReadmeExamples(fileURLToPath(new URL('../README.md', import.meta.url)));
});
