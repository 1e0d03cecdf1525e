// The floor of a Node proxy: a node:http server forwarding every request through one undici
// Pool with the lowest-level API (`dispatch` and a handler object), and nothing else: no
// routing, timeout, retry, breaker, tracing, metrics or header policy beyond dropping the
// hop-by-hop headers and adding x-forwarded-for. It shows how close a full gateway can get to
// what node:http and undici themselves cost on this machine. argv[2]: the upstream URL. Plain
// JavaScript, run without a loader. Prints {"port": n} once listening.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);
// As many connections as the gateway's upstream pools open by default.
const pool = new Pool(process.argv[2], { connections: 64 });

class Handler {
  constructor(res) {
    this.res = res;
  }
  onConnect() {}
  onHeaders(status, raw, resume) {
    if (status < 200) return true;
    const headers = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1');
      if (HOP_BY_HOP.has(name.toLowerCase())) continue;
      headers.push(name, raw[i + 1].toString('latin1'));
    }
    this.res.writeHead(status, headers);
    this.resume = resume;
    return true;
  }
  onData(chunk) {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resume);
    return false;
  }
  onComplete() {
    this.res.end();
  }
  onError() {
    if (this.res.headersSent) this.res.destroy();
    else this.res.writeHead(502, { 'content-length': '0' }).end();
  }
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  }
  headers.push('x-forwarded-for', req.socket.remoteAddress ?? '');
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.dispatch({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, new Handler(res));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
