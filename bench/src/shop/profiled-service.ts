// The entry the shop benchmark gives each service when it profiles them: runs the service's own
// entry (BENCH_PROFILE_ENTRY) in this process and records a V8 CPU profile between two SIGUSR2,
// written to BENCH_PROFILE_DIR/profile.cpuprofile. `node --cpu-prof` would do for a whole
// process, but Node 20 refuses it in NODE_OPTIONS and the supervisor adds no flags of its own to
// a .js entry; a window set by the benchmark also leaves start-up and seeding out of the profile.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const entry = process.env.BENCH_PROFILE_ENTRY;
const dir = process.env.BENCH_PROFILE_DIR;
if (entry === undefined || dir === undefined)
  throw new Error('profiled-service needs BENCH_PROFILE_ENTRY and BENCH_PROFILE_DIR');

const session = new Session();
session.connect();
let profiling = false;
process.on('SIGUSR2', () => {
  if (!profiling) {
    profiling = true;
    session.post('Profiler.enable', () =>
      session.post('Profiler.setSamplingInterval', { interval: 1000 }, () => session.post('Profiler.start')),
    );
    return;
  }
  profiling = false;
  session.post('Profiler.stop', (err, result) => {
    if (err !== null) {
      process.stderr.write(`profiled-service: Profiler.stop failed: ${err.message}\n`);
      return;
    }
    const { profile } = result;
    // V8 counts the first sample's interval from its own start-up (half a second here, spent
    // in this handler): not the service's time.
    const first = profile.timeDeltas?.[0];
    if (first !== undefined && profile.timeDeltas !== undefined) {
      profile.startTime += first;
      profile.timeDeltas[0] = 0;
    }
    mkdirSync(dir, { recursive: true });
    // Written under another name first: the benchmark reads the file as soon as it appears.
    const file = join(dir, 'profile.cpuprofile');
    writeFileSync(`${file}.tmp`, JSON.stringify(profile));
    renameSync(`${file}.tmp`, file);
  });
});

await import(pathToFileURL(entry).href);
