export { type Console, type ConsoleOptions, createConsole } from './console.js';
export type * from './contract.js';
export type { ConsoleHost, HostAction, HostFaults, HostInstance, HostLoad } from './host.js';
