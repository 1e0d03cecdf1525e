// The shop gateway's process: @flotilla/gateway with config.ts, on FLOTILLA_PORT (8080 under
// `flotilla up`). Upstreams come from the supervisor's topology file; FLOTILLA_SERVICE_KEY signs
// the service tokens, FLOTILLA_JWT_SECRET verifies customers' tokens, FLOTILLA_ADMIN_TOKEN opens
// /__admin. A changed config.ts is picked up without a restart. It stops gracefully on SIGTERM,
// SIGINT, or when the supervisor that started it is gone.
import { fileURLToPath } from 'node:url';
import { startGateway } from '@flotilla/gateway';
import { onLifelineCut } from '@flotilla/service';

const here = import.meta.url.endsWith('.ts') ? 'config.ts' : 'config.js';
const gateway = await startGateway({ config: fileURLToPath(new URL(`./${here}`, import.meta.url)) });
let closing = false;
const close = (): void => {
  if (closing) return;
  closing = true;
  void gateway.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, close);
onLifelineCut(close);
