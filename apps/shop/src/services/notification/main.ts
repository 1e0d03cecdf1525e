// The notification service's process: configuration from the environment (FLOTILLA_PORT,
// FLOTILLA_SERVICE_KEY, FLOTILLA_DATA_DIR or FLOTILLA_DATABASE_URL_NOTIFICATION, FLOTILLA_TRANSPORT).
import { runService } from '@flotilla/service';
import { notificationService } from './service.js';

await runService(notificationService);
