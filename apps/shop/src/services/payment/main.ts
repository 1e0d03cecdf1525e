// Runs the payment service as its own process (the supervisor sets FLOTILLA_PORT and the rest).
import { runService } from '@flotilla/service';
import { paymentService } from './service.js';

await runService(paymentService);
