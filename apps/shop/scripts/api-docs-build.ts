// Builds the shop's API reference in memory: the gateway configuration as the gateway itself
// validates it, the table checked against it and against the contracts, and the Markdown.
import { fileURLToPath } from 'node:url';
import { type GatewayConfig, validateGatewayConfig } from '@flotilla/gateway';
import shopGateway from '../src/gateway/config.js';
import { checkApiDoc } from './api-docs-check.js';
import { renderApiDoc } from './api-docs-render.js';
import { gatewayErrors, routeDocs } from './api-docs-table.js';

/** Where the reference is written: docs/api.md at the repository's root. */
export const API_DOC_PATH = fileURLToPath(new URL('../../../docs/api.md', import.meta.url));

/**
 * The shop gateway's configuration, validated and defaulted by @flotilla/gateway (with a
 * stand-in for the JWT secret it reads from the environment when it runs).
 */
export function shopGatewayConfig(): GatewayConfig {
  return validateGatewayConfig(shopGateway, { env: { FLOTILLA_JWT_SECRET: 'api-docs'.repeat(8) } });
}

/** The reference: its Markdown, and every problem of the table (none when it may be written). */
export interface ApiDoc {
  readonly markdown: string;
  readonly issues: readonly string[];
}

/** Checks the table and renders the reference (rendering only when the table is complete). */
export function buildApiDoc(config: GatewayConfig = shopGatewayConfig()): ApiDoc {
  const issues = checkApiDoc(config, routeDocs, gatewayErrors);
  const complete = config.routes.every((r) => routeDocs.some((d) => d.id === r.id));
  return { markdown: complete ? renderApiDoc(config, routeDocs, gatewayErrors) : '', issues };
}
