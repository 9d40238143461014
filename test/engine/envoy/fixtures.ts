/** Shared builders for the Envoy engine tests (hand-written fixtures under test/fixtures/envoy/). */
import { readFileSync } from 'node:fs'
import { loadEnvoyConfig } from '../../../src/engine/envoy/config-dump.js'
import type { EnvoyModel } from '../../../src/engine/envoy/model.js'
import type { EnvoyConnection, HttpFacts } from '../../../src/engine/envoy/trace-envoy.js'

/** Reads a fixture file under test/fixtures/envoy/. */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`../../fixtures/envoy/${name}`, import.meta.url), 'utf8')
}

/** The hand-written v3 sidecar dump, loaded (optionally with /clusters and /stats). */
export function sidecarModel(extra: { clusters?: unknown; stats?: unknown } = {}): EnvoyModel {
  return loadEnvoyConfig({ configDump: JSON.parse(fixtureText('sidecar-v3.json')), ...extra })
}

/** The pod IP of the fixture sidecar. */
export const POD = '10.244.2.5'

/** An outbound connection captured to 15001. */
export function outbound(ip: string, port: number, over: Partial<EnvoyConnection> = {}): EnvoyConnection {
  return { direction: 'outbound', delivered: { ip: '127.0.0.1', port: 15001 }, originalDst: { ip, port }, source: { ip: POD, port: 40000 }, transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1'], podIps: [POD], ...over }
}

/** An inbound connection captured to podIP:15006. */
export function inbound(port: number, over: Partial<EnvoyConnection> = {}): EnvoyConnection {
  return { direction: 'inbound', delivered: { ip: POD, port: 15006 }, originalDst: { ip: POD, port }, source: { ip: '10.244.1.7', port: 40000 }, transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1'], podIps: [POD], ...over }
}

/** A GET with a Host header. */
export function get(host: string, path = '/', headers: Record<string, string> = {}): HttpFacts {
  return { method: 'GET', path, headers: { host, ...headers }, scheme: 'http' }
}
