import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { GatewayConfigInput } from './config.js';
import {
  bodyOf,
  rawRequest,
  startTestGateway,
  startUpstream,
  statusOf,
  type TestUpstream,
} from './gateway.test-helpers.js';

const config: GatewayConfigInput = {
  // Fuzzed heads may declare a body they never send: answer those fast.
  limits: { bodyTimeoutMs: 300 },
  upstreamDefaults: { timeoutMs: 1_000 },
  routes: [
    { id: 'api', match: { path: '/api/*' }, auth: 'public', upstream: { service: 'echo' } },
    { id: 'admin', match: { path: '/admin/*' }, upstream: { service: 'echo' } },
  ],
  auth: { jwt: { secret: 'malformed-tests-secret-of-32-bytes-long!!' } },
};

describe('malformed requests', () => {
  let upstream: TestUpstream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway(config, { echo: [upstream.url] }, { maxHeaderBytes: 4096 });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const cases: [string, string, number, string][] = [
    ['path traversal', 'GET /api/../admin/x HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'PATH_TRAVERSAL'],
    ['encoded traversal', 'GET /api/%2e%2e/admin/x HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'PATH_TRAVERSAL'],
    [
      'mixed-case encoded traversal',
      'GET /api/.%2E/admin HTTP/1.1\r\nHost: a\r\n\r\n',
      400,
      'PATH_TRAVERSAL',
    ],
    [
      'encoded slash smuggling',
      'GET /api/x%2f..%2fadmin HTTP/1.1\r\nHost: a\r\n\r\n',
      400,
      'ENCODED_SEPARATOR',
    ],
    ['backslash', 'GET /api\\..\\admin HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'INVALID_PATH'],
    ['encoded NUL', 'GET /api/a%00b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'INVALID_PATH'],
    ['bad percent-encoding', 'GET /api/%zz HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'BAD_PERCENT_ENCODING'],
    [
      'absolute-form target',
      'GET http://evil.example/api/x HTTP/1.1\r\nHost: a\r\n\r\n',
      400,
      'INVALID_PATH',
    ],
    ['invalid method token', 'G(T /api/x HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'INVALID_METHOD'],
    [
      'method the gateway does not route',
      'TRACE /api/x HTTP/1.1\r\nHost: a\r\n\r\n',
      405,
      'METHOD_NOT_ALLOWED',
    ],
    [
      'CONNECT',
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
      405,
      'METHOD_NOT_ALLOWED',
    ],
    ['missing Host', 'GET /api/x HTTP/1.1\r\n\r\n', 400, 'MISSING_HOST'],
    [
      'two Content-Length values',
      'POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'raw NUL in a header',
      'GET /api/x HTTP/1.1\r\nHost: a\r\nX-A: b\u0000c\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'not HTTP at all',
      '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\r\n\r\n',
      400,
      'INVALID_METHOD',
    ],
  ];
  for (const [name, text, status, code] of cases)
    it(`answers ${status} ${code} to ${name}, without calling the upstream`, async () => {
      const before = upstream.requests.length;
      const response = await rawRequest(gw.url, text);
      assert.equal(statusOf(response), status, response);
      assert.equal((bodyOf(response) as { error: { code: string } }).error.code, code);
      assert.equal(upstream.requests.length, before);
    });

  it('answers 431 in the standard shape to an oversized head', async () => {
    const response = await rawRequest(
      gw.url,
      `GET /api/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(8_000)}\r\n\r\n`,
    );
    assert.equal(statusOf(response), 431);
    assert.deepEqual(bodyOf(response), {
      error: {
        code: 'HEADERS_TOO_LARGE',
        message: 'the request head is larger than the gateway accepts',
        retryable: false,
      },
    });
  });

  it('answers 413 to a body over the limit, declared or chunked', async (t) => {
    const small = await startTestGateway(
      {
        limits: { bodyBytes: 1_000, requestTimeoutMs: 5_000 },
        routes: [{ id: 'up', match: { path: '/up' }, auth: 'public', upstream: { service: 'echo' } }],
      },
      { echo: [upstream.url] },
    );
    t.after(() => small.close());
    const declared = await rawRequest(
      small.url,
      `POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5_000)}`,
    );
    assert.equal(statusOf(declared), 413);
    const chunk = 'x'.repeat(600);
    const chunked = await rawRequest(
      small.url,
      `POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`,
    );
    assert.equal(statusOf(chunked), 413, chunked);
    const buffered = await rawRequest(
      small.url,
      `PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`,
    );
    assert.equal(statusOf(buffered), 413);
  });

  it('answers 408 REQUEST_TIMEOUT to a body declared and never sent, buffered or streamed', async (t) => {
    const slow = await startTestGateway(
      {
        limits: { bodyTimeoutMs: 200 },
        upstreamDefaults: { timeoutMs: 500 },
        routes: [{ id: 'up', match: { path: '/up' }, auth: 'public', upstream: { service: 'echo' } }],
      },
      { echo: [upstream.url] },
    );
    t.after(() => slow.close());
    // GET is retryable, so its body is read whole first; POST streams it upstream.
    for (const head of [
      'GET /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n',
      'PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab',
    ]) {
      const response = await rawRequest(slow.url, head);
      assert.equal(statusOf(response), 408, `${head}\n${response}`);
      assert.equal((bodyOf(response) as { error: { code: string } }).error.code, 'REQUEST_TIMEOUT');
      assert.match(response.toLowerCase(), /\r\nconnection: close\r\n/);
    }
  });
});

describe('fuzzing over a raw socket', () => {
  let child: ChildProcess;
  let url: string;
  let upstream: TestUpstream;
  let exited = false;
  before(async () => {
    upstream = await startUpstream();
    child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        fileURLToPath(new URL('./fixtures/gateway-child.ts', import.meta.url)),
        JSON.stringify(config),
      ],
      { env: { ...process.env, FLOTILLA_ECHO_URL: upstream.url }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child.on('exit', () => {
      exited = true;
    });
    const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
    url = (JSON.parse(line.toString('utf8')) as { url: string }).url;
  });
  after(async () => {
    child?.kill('SIGTERM');
    await upstream?.close();
  });

  const pathChar = fc.constantFrom(
    ...'abcXYZ019-._~/%:@!$&\'()*+,;=?#[]\\ "<>^`{|}\u0000\u0001\u007f\u00e9'.split(''),
  );
  const path = fc.array(pathChar, { maxLength: 40 }).map((chars) => `/api/${chars.join('')}`);
  const headerName = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/);
  const headerValue = fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, ''));
  const headers = fc.array(
    fc.tuple(
      fc.oneof(
        headerName,
        fc.constantFrom(
          'Content-Length',
          'Transfer-Encoding',
          'Connection',
          'Host',
          'Authorization',
          'Upgrade',
          'Expect',
        ),
      ),
      headerValue,
    ),
    { maxLength: 6 },
  );
  const method = fc.constantFrom(
    'GET',
    'POST',
    'PUT',
    'DELETE',
    'OPTIONS',
    'HEAD',
    'PATCH',
    'PROPFIND',
    'FOO',
  );

  it('never answers 5xx and never crashes, whatever the path and headers', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(method, path, headers, async (m, p, hs) => {
        const head = [
          `${m} ${p} HTTP/1.1`,
          'Host: fuzz',
          ...hs.map(([n, v]) => `${n}: ${v}`),
          'Connection: close',
          '',
          '',
        ].join('\r\n');
        const response = await rawRequest(url, Buffer.from(head, 'latin1'));
        if (response === '') return; // the parser may close a connection without a word
        const status = statusOf(response);
        assert.ok(!(status >= 500), `${status} for ${JSON.stringify(head)}:\n${response.slice(0, 300)}`);
        assert.equal(exited, false, 'the gateway process died');
      }),
      { numRuns: 400 },
    );
    assert.equal(exited, false);
  });
});
