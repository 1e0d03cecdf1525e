/** The commands of `flotilla`, with their help texts. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  up: `Usage: flotilla up [system-file] [options]

Runs every service of the system as its own process, in dependency order, and waits until all
are ready; prints a table of services and the system's banner. Ctrl-C (or SIGTERM) stops them in
reverse dependency order and exits 0. Crashed services are restarted with exponential backoff.
The web console is served at <control API>/console/ (the banner prints its URL with the token).

Options:
  -f, --file <path>      the system file (same as the positional argument)
  -p, --profile <name>   run a profile of the system (e.g. distributed)
      --fault-proxies    put a fault proxy in front of every instance, so the console can add
                         latency, errors, resets and blackholes to the calls into a service
      --no-console       do not serve the web console
      --raw-logs         pass services' JSON log lines through even on a terminal
  -h, --help             show this help`,
  status: `Usage: flotilla status [system-file] [options]

Shows every instance's readiness, circuit breakers (upstream=state) and queue depths, with the
supervisor's state, pid, restarts and uptime when flotilla up runs. Exits 1 when an instance is
not ready. Breakers come from each instance's /internal/policies; the gateway's from its admin
API (/__admin/upstreams), which needs the admin token: without one, or when it is refused, the
gateway's breakers are left out.

Options:
  -f, --file <path>      the system file
  -p, --profile <name>   the profile whose instances to probe when flotilla up is not running
      --token <token>    the admin token for the gateway's breakers (default $FLOTILLA_ADMIN_TOKEN,
                         else the system's data directory secrets.json)
      --json             print the status as JSON
  -h, --help             show this help`,
  stop: `Usage: flotilla stop <service> [options]

Stops a service of the running system (SIGTERM, then SIGKILL after the grace period). It stays
stopped, without automatic restarts, until flotilla start.

Options:
  -f, --file <path>      the system file
  -i, --instance <n>     only this instance (0, 1, …)
  -h, --help             show this help`,
  start: `Usage: flotilla start <service> [options]

Starts a stopped service of the running system (or one that gave up after crashing at start) and
waits until it is ready. Exits 1 when it does not become ready.

Options:
  -f, --file <path>      the system file
  -i, --instance <n>     only this instance (0, 1, …)
  -h, --help             show this help`,
  restart: `Usage: flotilla restart <service> [options]

Stops, then starts, a service of the running system and waits until it is ready.

Options:
  -f, --file <path>      the system file
  -i, --instance <n>     only this instance (0, 1, …)
  -h, --help             show this help`,
  reset: `Usage: flotilla reset [system-file] [options]

Deletes the system's data directory: every service's data, the generated secrets and the
topology. Refuses while flotilla up runs for the system.

Options:
  -f, --file <path>      the system file
  -h, --help             show this help`,
  load: `Usage: flotilla load [system-file] [options]

Runs the system file's load scenario (its \`load\` export) --orders times, --concurrency at once,
against the gateway, then prints throughput, latency percentiles and the outcomes it reported.

Options:
  -f, --file <path>         the system file
  -n, --orders <n>          iterations to run (default 100)
  -c, --concurrency <n>     iterations at once (default 10)
  -g, --gateway <url>       base URL to send traffic to (default: the system's gateway service)
      --seed <n>            seed of the scenario's random numbers, to repeat a run
      --json                print the summary as JSON
  -h, --help                show this help`,
  chaos: `Usage: flotilla chaos [system-file] [options]

Starts the system, runs its chaos workload (the system file's \`chaos\` export) while a nemesis
injects faults through the supervisor (processes) and fault proxies (calls between services),
then ends every fault, waits for the system to settle and checks its invariants. Prints the
faults as they happen and a verdict per invariant with counter-examples, writes a JSON report,
and exits 1 on any violation.

Faults (comma-separated; see docs/chaos.md):
  kill:<target>@every=5s                 SIGKILL; the supervisor restarts it with its backoff
  freeze:<target>@every=15s,for=3s       SIGSTOP, then SIGCONT after \`for\`
  stop:<target>@every=20s,for=5s         graceful stop, then start after \`for\`
  latency:<target>=200ms±100ms           delay each chunk of calls to the target
  bandwidth:<target>=10kb                bytes per second per connection and direction
  reset:<target>@p=0.05                  reset new connections at that probability
  reset:<target>@every=10s               reset every current connection at each tick
  blackhole:<target>@every=20s,for=3s    accept connections, never forward nor answer
  errors:<target>=0.2@every=15s,for=5s   answer that share of new connections 503
  nats-restart@every=20s,for=3s          stop the run's own NATS server (--nats-server) for
                                         \`for\`, then start it on the same port and store
  pg-kill:<target>@every=10s             terminate every connection to the target's PostgreSQL
                                         database (pg_terminate_backend)
  partition:<netns>@every=20s,for=3s     cut a network namespace the instances run in (netns)
                                         off the network for \`for\`, then reconnect it
  target: random, a service name, or service[N]; jitter=<duration> (default every/2)
  Network faults act through a proxy in front of every instance (the topology the services
  read lists the proxies); without every they hold for the whole run, with every for \`for\`.

Options:
  -f, --file <path>         the system file
  -p, --profile <name>      run a profile of the system (e.g. distributed)
  -d, --duration <time>     how long faults and workload run (default 60s)
      --faults <schedule>   the fault schedule (default: the system's, else
                            kill:random@every=10s,freeze:random@every=15s,for=3s)
      --seed <n>            seed of target choice, jitter and the workload (default 1)
  -c, --concurrency <n>     clients at once (default 8)
      --quiesce <time>      how long to wait for healing and for the invariants to hold (default 90s)
      --report <path>       where to write the JSON report (default chaos-report.json)
      --free-ports          run a copy on free ports with a temporary data directory (and
                            PostgreSQL databases of its own, dropped afterwards)
      --nats-server         run the system on a NATS server of the run's own: every nats://
                            URL of its environment points there (needed by nats-restart)
      --nats-server-bin <path>  the nats-server program (default: nats-server on PATH)
      --logs                print the services' output on standard error
  -h, --help                show this help`,
  doctor: `Usage: flotilla doctor [system-file] [options]

Reads the system file, every service's source, the gateway configuration and, optionally,
recorded traces or the spans the running system holds, and reports the signs of a distributed
monolith: shared databases, HTTP calls outside ServiceClient, saga steps that cannot be undone,
dependency and event cycles, retry amplification, long synchronous chains, chatty calls,
readiness fan-in, shared domain modules. Starts nothing. Findings are grouped by severity
(error, warn, info); see docs/doctor.md.

Options:
  -f, --file <path>            the system file
  -t, --traces <file>          recorded spans (a JSON array, or { "spans": [...] } from /internal/spans)
      --live <url>             read the spans of the running system from its control API instead
                               (the URL flotilla up prints, e.g. http://127.0.0.1:7100)
      --token <token>          the admin token for --live (default $FLOTILLA_ADMIN_TOKEN, else the
                               system's data directory secrets.json)
      --chatty <n>             calls from one service to another within one request above which
                               it is chatty (default 5)
      --max-retry-factor <n>   attempts multiplied along one path above which it warns (default 10)
      --fail-on <severity>     exit 1 when a finding is at least this bad: warn or error (default error)
      --json                   print the findings as JSON
  -h, --help                   show this help`,
};

/** The overview `flotilla --help` prints. */
export const MAIN_HELP = `Usage: flotilla <command> [options]

Runs a system of services on one machine, one process per service.

Commands:
  up [system-file]        start every service in dependency order and supervise them
  status [system-file]    readiness, breakers and queue depths of every instance
  stop <service>          stop a service of the running system
  start <service>         start it again
  restart <service>       stop, then start
  reset [system-file]     delete the data directory (not while up runs)
  load [system-file]      run the system's load scenario against its gateway
  chaos [system-file]     inject faults under load, then check the system's invariants
  doctor [system-file]    find the signs of a distributed monolith in the system's code and traces

The system file defaults to $FLOTILLA_SYSTEM, else flotilla.system.{ts,mts,js,mjs,json} in the
current directory; commands other than up/status/reset/load/chaos/doctor take it with -f.

Run flotilla help <command> (or flotilla <command> --help) for a command's options.
Exit codes: 0 success, 1 failure, 2 usage error.`;
