import { relative } from 'node:path';
import type { GatewayConfig } from '@flotilla/gateway';
import type { System } from '../validate-system.js';
import type { ServiceSources } from './service-sources.js';
import type { SourceFile } from './source-file.js';

/** What every check reads: the system, its services' source and the gateway configuration. */
export interface DoctorContext {
  readonly system: System;
  readonly sources: readonly ServiceSources[];
  /** The gateway's configuration, when the system has a gateway with a config file beside its entry. */
  readonly gateway: { readonly file: string; readonly config: GatewayConfig } | undefined;
  /** A path relative to the system's directory, as evidence shows it. */
  rel(path: string): string;
}

/** Builds a context (the sources already read). */
export function doctorContext(
  system: System,
  sources: readonly ServiceSources[],
  gateway: DoctorContext['gateway'],
): DoctorContext {
  return { system, sources, gateway, rel: (path) => relative(system.baseDir, path) || path };
}

/** A service's own files and the shared modules it imports, each once. */
export function allFiles(sources: ServiceSources): SourceFile[] {
  return [...sources.own, ...sources.shared];
}
