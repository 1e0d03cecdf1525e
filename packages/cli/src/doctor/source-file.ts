import { readFileSync } from 'node:fs';

/** A source file as `flotilla doctor` reads it: the text, and the text with comments blanked. */
export interface SourceFile {
  /** Absolute path. */
  readonly path: string;
  readonly text: string;
  /** `text` with every comment replaced by spaces (line breaks kept, so offsets and lines match). */
  readonly code: string;
}

/** A match of a pattern in a file's code. */
export interface CodeMatch {
  /** 1-based line number. */
  readonly line: number;
  /** The whole line, trimmed. */
  readonly snippet: string;
  /** The regular expression's match. */
  readonly match: RegExpExecArray;
}

/** Reads a source file and blanks its comments. */
export function readSourceFile(path: string): SourceFile {
  const text = readFileSync(path, 'utf8');
  return { path, text, code: blankComments(text) };
}

/** Every match of `pattern` (made global) in the file's code, with its line. */
export function findInCode(file: SourceFile, pattern: RegExp): CodeMatch[] {
  const global = new RegExp(
    pattern.source,
    pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`,
  );
  const out: CodeMatch[] = [];
  for (let m = global.exec(file.code); m !== null; m = global.exec(file.code)) {
    const line = lineOf(file.code, m.index);
    out.push({ line, snippet: lineText(file.text, line), match: m });
    if (m[0] === '') global.lastIndex++;
  }
  return out;
}

/** The 1-based line of an offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The text of a 1-based line, trimmed and cut at 120 characters. */
export function lineText(text: string, line: number): string {
  const raw = (text.split('\n')[line - 1] ?? '').trim();
  return raw.length > 120 ? `${raw.slice(0, 117)}...` : raw;
}

/**
 * Replaces `//` and `/* *\/` comments with spaces, leaving strings and template literals alone,
 * so patterns never match commented-out code or prose about `fetch(`.
 */
export function blankComments(text: string): string {
  const out = text.split('');
  let i = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < out.length; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\') i++;
        else if (c !== '`' && text[i] === '\n') break;
        i++;
      }
      i++;
    } else i++;
  }
  return out.join('');
}
