import { describe, expect, it } from 'vitest'
import { ENVOY_FINDINGS, envoyFinding } from '../../../src/engine/envoy/findings.js'

describe('ENVOY_FINDINGS', () => {
  it('is ordered by code', () => {
    const codes = Object.keys(ENVOY_FINDINGS)

    expect(codes).toEqual([...codes].sort())
  })

  it.each(Object.keys(ENVOY_FINDINGS))('%s has a level and a sentence', (code) => {
    const spec = ENVOY_FINDINGS[code as keyof typeof ENVOY_FINDINGS]

    expect(['info', 'warning', 'error']).toContain(spec.level)
    expect(spec.template).toMatch(/[.)]$/)
  })

  it('fills placeholders', () => {
    expect(envoyFinding('cluster-not-found', { cluster: 'c', flag: 'NC' }).message).toContain('cluster c, which is not in the config dump: Envoy answers 503 with flag NC')
  })
})
