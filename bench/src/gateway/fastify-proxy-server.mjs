// Fastify 5 + @fastify/http-proxy in front of the benchmark upstream (argv[2]: its URL), with
// Fastify's defaults and logging off. Plain JavaScript, run without a loader. Prints
// {"port": n} once listening.
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const app = Fastify({ logger: false });
await app.register(proxy, { upstream: process.argv[2], prefix: '/api', rewritePrefix: '/api' });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(address).port) })}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
