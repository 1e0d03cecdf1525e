import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, it } from 'node:test';
import { isSystemDefinitionError, type SystemDefinitionError } from './errors.js';
import { fixtureEntry } from './fixtures/harness.js';
import { findIp, parseProcNetTcp } from './netns.js';
import { checkPlacement, isLocalOnly, type MachineFacts, proxyListenHost } from './placement.js';
import type { SystemDefinition } from './system-definition.js';
import { validateSystem } from './validate-system.js';

const entry = fixtureEntry('catalog.ts');

function system(services: SystemDefinition['services']) {
  return validateSystem({ name: 'placed', controlPort: 0, services });
}

function v4(address: string, netmask: string, internal = false): NetworkInterfaceInfo {
  return { address, netmask, family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: `${address}/24` };
}

const machine = (facts: Partial<MachineFacts>): MachineFacts => ({
  platform: 'linux',
  uid: 0,
  ip: '/usr/sbin/ip',
  interfaces: { lo: [v4('127.0.0.1', '255.0.0.0', true)], eth0: [v4('192.0.2.2', '255.255.255.0')] },
  ...facts,
});

async function problems(promise: Promise<unknown>): Promise<string[]> {
  const err = await promise.then(
    () => assert.fail('expected a SystemDefinitionError'),
    (e: unknown) => e,
  );
  assert.ok(isSystemDefinitionError(err), String(err));
  return (err as SystemDefinitionError).problems.map((p) => `${p.path}: ${p.message}`);
}

describe('checkPlacement', () => {
  it('runs nothing for a system on 127.0.0.1 only', async () => {
    const s = system([{ name: 'a', entry, port: 7301 }]);
    assert.equal(isLocalOnly(s.plan()), true);
    // No ip program, not root, not Linux: none of it matters on 127.0.0.1.
    assert.deepEqual(
      await checkPlacement(s, s.plan(), machine({ platform: 'darwin', uid: 501, ip: undefined })),
      {
        ip: undefined,
      },
    );
  });

  it('accepts a host of this machine and names the key of one that is not', async () => {
    const ok = system([{ name: 'a', entry, port: 7301, host: '192.0.2.2' }]);
    assert.deepEqual(await checkPlacement(ok, ok.plan(), machine({})), { ip: undefined });
    const bad = system([
      { name: 'a', entry, port: 7301 },
      { name: 'b', entry, instances: [{ port: 7302 }, { port: 7303, host: '198.51.100.7' }] },
    ]);
    assert.deepEqual(await problems(checkPlacement(bad, bad.plan(), machine({}))), [
      'services[1].instances[1].host: b[1] would bind 198.51.100.7, which is not an address of this machine (its addresses: 127.0.0.1, 192.0.2.2)',
    ]);
  });

  it('names the netns key when namespaces cannot be used: not Linux, not root, no ip program', async () => {
    const s = system([
      { name: 'a', entry, port: 7301 },
      { name: 'b', entry, port: 7302, netns: 'lab-h1', host: '10.9.8.11' },
    ]);
    assert.deepEqual(await problems(checkPlacement(s, s.plan(), machine({ platform: 'darwin' }))), [
      'services[1].netns: network namespaces ("lab-h1") need Linux; this is darwin',
    ]);
    assert.deepEqual(await problems(checkPlacement(s, s.plan(), machine({ uid: 1000 }))), [
      'services[1].netns: running a process in network namespace "lab-h1" (ip netns exec) needs root; the supervisor runs as uid 1000',
    ]);
    assert.deepEqual(await problems(checkPlacement(s, s.plan(), machine({ ip: undefined }))), [
      'services[1].netns: running a process in network namespace "lab-h1" needs the ip program (iproute2), which is not installed',
    ]);
  });

  const ip = findIp();
  it('names the key of every instance whose namespace does not exist', {
    skip: ip === undefined ? 'the ip program (iproute2) is not installed' : false,
  }, async () => {
    const missing = `flt-missing-${process.pid}`;
    const s = validateSystem({
      name: 'placed',
      controlPort: 0,
      services: [{ name: 'a', entry, port: 7301, netns: 'elsewhere', host: '10.9.8.11' }],
      profiles: {
        lab: { services: { a: { instances: [{ port: 7301, netns: missing, host: '10.9.8.11' }] } } },
      },
    });
    const found = await problems(checkPlacement(s, s.plan('lab'), machine({ ip })));
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(
      found[0] as string,
      new RegExp(
        `^profiles\\.lab\\.services\\.a\\.instances\\[0\\]\\.netns: network namespace "${missing}" does not exist \\(ip netns list: .*\\); create it with ip netns add ${missing}$`,
      ),
    );
  });
});

describe('proxyListenHost', () => {
  const interfaces = {
    lo: [v4('127.0.0.1', '255.0.0.0', true)],
    eth0: [v4('192.0.2.2', '255.255.255.0')],
    br0: [v4('10.9.8.1', '255.255.255.0')],
    br1: [v4('10.9.9.1', '255.255.255.0')],
  };

  it('is 127.0.0.1 without namespaces, and the bridge address on the namespaces network with them', () => {
    const local = system([{ name: 'a', entry, port: 7301, host: '192.0.2.2' }]);
    assert.equal(proxyListenHost(local, local.plan(), interfaces), '127.0.0.1');
    const spread = system([
      { name: 'a', entry, port: 7301 },
      { name: 'b', entry, port: 7302, netns: 'h1', host: '10.9.8.11' },
      { name: 'c', entry, port: 7303, netns: 'h2', host: '10.9.8.12' },
    ]);
    assert.equal(proxyListenHost(spread, spread.plan(), interfaces), '10.9.8.1');
  });

  it('names a key when no one address of the supervisor reaches every namespace', () => {
    const far = system([{ name: 'b', entry, port: 7302, netns: 'h1', host: '10.7.7.11' }]);
    assert.throws(
      () => proxyListenHost(far, far.plan(), interfaces),
      (err: SystemDefinitionError) =>
        err.problems[0]?.path === 'services[0].host' && /no one|there is none/.test(err.problems[0].message),
    );
    const split = system([
      { name: 'b', entry, port: 7302, netns: 'h1', host: '10.9.8.11' },
      { name: 'c', entry, port: 7303, netns: 'h2', host: '10.9.9.11' },
    ]);
    assert.throws(
      () => proxyListenHost(split, split.plan(), interfaces),
      (err: SystemDefinitionError) =>
        err.problems[0]?.path === 'services[0].netns' &&
        /10\.9\.8\.1, 10\.9\.9\.1/.test(err.problems[0].message),
    );
  });
});

describe('parseProcNetTcp', () => {
  it('finds the listening sockets of /proc/net/tcp and tcp6, IPv4-mapped ones as IPv4', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1C8D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1',
      '   1: 0B08090A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1',
      '   2: 0100007F:1C8D 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3 1',
      '  sl  local_address                         remote_address                        st',
      '   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0',
      '   1: 0000000000000000FFFF00000B08090A:01BB 00000000000000000000000000000000:0000 0A 0',
    ].join('\n');
    assert.deepEqual(parseProcNetTcp(text), [
      { address: '127.0.0.1', port: 7309 },
      { address: '10.9.8.11', port: 8080 },
      { address: '::', port: 80 },
      { address: '10.9.8.11', port: 443 },
    ]);
  });
});
