// Runs the legacy monolith as its own process (the supervisor sets FLOTILLA_PORT and the rest).
import { runService } from '@flotilla/service';
import { legacyService } from './service.js';

await runService(legacyService);
