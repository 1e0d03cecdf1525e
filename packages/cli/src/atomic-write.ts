import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes a file so readers see either the old or the new content, never half of it: a temporary
 * file beside it, renamed over it. Services watch the topology file while it is rewritten.
 */
export function writeFileAtomic(file: string, content: string, mode = 0o644): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, file);
}
