// Runs the catalog service as its own process (the supervisor sets FLOTILLA_PORT and the rest).
import { runService } from '@flotilla/service';
import { catalogService } from './service.js';

await runService(catalogService);
