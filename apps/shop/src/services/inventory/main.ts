// Runs the inventory service as its own process (the supervisor sets FLOTILLA_PORT and the rest).
import { runService } from '@flotilla/service';
import { inventoryService } from './service.js';

await runService(inventoryService);
