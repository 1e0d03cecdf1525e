// The upstream of the gateway benchmark: a node:http server answering a 103-byte JSON document.
// Plain JavaScript, run without a loader. Prints {"port": n} once listening.
import { createServer } from 'node:http';

const body = Buffer.from(
  JSON.stringify({
    id: 'sku-1042',
    name: 'Canvas tote bag',
    price: 1299,
    currency: 'EUR',
    stock: 42,
    tags: ['bags'],
  }),
);
const server = createServer({ keepAliveTimeout: 65_000 }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
