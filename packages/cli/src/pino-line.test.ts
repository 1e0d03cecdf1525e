import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogPrinter } from './log-printer.js';
import { renderPinoLine } from './pino-line.js';

const line = (record: Record<string, unknown>): string =>
  JSON.stringify({ level: 'info', time: '2026-01-01T00:00:00.000Z', service: 'order', ...record });

describe('renderPinoLine', () => {
  it('shows level, message and a few fields, without the fields every line carries', () => {
    assert.equal(
      renderPinoLine(
        line({ msg: 'order ready', url: 'http://127.0.0.1:7202', version: '1.0.0', pid: 42 }),
        false,
      ),
      'INFO  order ready url=http://127.0.0.1:7202 version=1.0.0',
    );
  });

  it('understands numeric levels, quotes values with spaces and keeps at most four fields', () => {
    assert.equal(
      renderPinoLine(
        JSON.stringify({
          level: 40,
          msg: 'slow',
          a: 'two words',
          b: 2,
          c: { d: true },
          e: null,
          f: 'dropped',
        }),
        false,
      ),
      'WARN  slow a="two words" b=2 c={"d":true} e=null',
    );
  });

  it('shows an error message, and its stack for error levels', () => {
    const rendered = renderPinoLine(
      line({
        level: 'error',
        msg: 'request failed',
        err: { message: 'boom', stack: 'Error: boom\n    at handler (order.ts:1:1)\n    at run (x.ts:2:2)' },
      }),
      false,
    );
    assert.equal(
      rendered,
      'ERROR request failed err=boom\n    at handler (order.ts:1:1)\n    at run (x.ts:2:2)',
    );
  });

  it('colours the level only when asked', () => {
    assert.equal(renderPinoLine(line({ msg: 'hi' }), true), '\u001b[32mINFO \u001b[39m hi');
  });

  it('leaves lines that are not pino JSON alone', () => {
    assert.equal(renderPinoLine('plain text', false), undefined);
    assert.equal(renderPinoLine('{"not":"a log line"}', false), undefined);
    assert.equal(renderPinoLine('{broken', false), undefined);
  });
});

describe('createLogPrinter', () => {
  const capture = (options: { colour: boolean; pretty: boolean }) => {
    const chunks: string[] = [];
    const printer = createLogPrinter({
      ...options,
      write: (c) => chunks.push(c),
      labels: ['order', 'payment[1]'],
    });
    return { printer, text: () => chunks.join('') };
  };

  it('prefixes each line with the label padded to the longest one', () => {
    const { printer, text } = capture({ colour: false, pretty: true });
    printer.service('order', 0, line({ msg: 'order ready' }));
    printer.service('payment[1]', 1, 'plain output');
    printer.system('starting order');
    assert.equal(
      text(),
      'order      | INFO  order ready\npayment[1] | plain output\nflotilla   | starting order\n',
    );
  });

  it('passes JSON lines through when not pretty, and returns the readable form for tails', () => {
    const { printer, text } = capture({ colour: false, pretty: false });
    const json = line({ msg: 'order ready' });
    assert.equal(printer.service('order', 0, json), 'INFO  order ready');
    assert.equal(text(), `order      | ${json}\n`);
  });

  it('colours prefixes only when colour is on', () => {
    const plain = capture({ colour: false, pretty: false });
    plain.printer.service('order', 0, 'x');
    assert.equal(plain.text().includes('\u001b['), false);
    const coloured = capture({ colour: true, pretty: false });
    coloured.printer.service('order', 0, 'x');
    assert.equal(coloured.text(), '\u001b[36morder      |\u001b[39m x\n');
  });
});
