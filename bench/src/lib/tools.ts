import { execFileSync, spawnSync } from 'node:child_process';

/**
 * Makes sure a Debian-packaged tool is on PATH, installing its package with apt-get when it is
 * missing (benchmarks only; tests never install anything).
 */
export function ensureTool(command: string, debianPackage = command): string {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.trim();
  process.stderr.write(`${command} is missing: installing Debian package ${debianPackage}\n`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', debianPackage], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim();
}
