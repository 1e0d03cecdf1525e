// The shipping service's process: configuration from the environment (FLOTILLA_PORT,
// FLOTILLA_SERVICE_KEY, FLOTILLA_DATA_DIR or FLOTILLA_DATABASE_URL_SHIPPING, FLOTILLA_TRANSPORT, SHIPPING_*).
import { runService } from '@flotilla/service';
import { shippingService } from './service.js';

await runService(shippingService);
