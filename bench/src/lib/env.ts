import { cpus, totalmem } from 'node:os';

/** One line describing where a benchmark ran: CPU, cores, memory, Node version, date. */
export function machineLine(): string {
  const cpu = cpus();
  const model = cpu[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  const gib = (totalmem() / 2 ** 30).toFixed(0);
  const date = new Date().toISOString().slice(0, 10);
  return `${model}, ${cpu.length} cores, ${gib} GiB, Node ${process.version}, ${process.platform}/${process.arch}, ${date}`;
}
