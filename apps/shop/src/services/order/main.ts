// The order service's process: configuration from the environment (FLOTILLA_PORT, FLOTILLA_SERVICE_KEY,
// FLOTILLA_DATA_DIR or FLOTILLA_DATABASE_URL_ORDER, FLOTILLA_TRANSPORT, FLOTILLA_<SERVICE>_URL, ORDER_*).
import { runService } from '@flotilla/service';
import { orderService } from './service.js';

await runService(orderService);
