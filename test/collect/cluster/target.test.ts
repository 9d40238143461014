import { describe, expect, it } from 'vitest'
import { closeNames, parsePodTarget, selectorQuery } from '../../../src/collect/cluster/target.js'
import { UserError } from '../../../src/errors.js'

describe('parsePodTarget', () => {
  it.each([
    ['reviews-v1-abc', { kind: 'pod', name: 'reviews-v1-abc' }],
    ['pod/reviews-v1-abc', { kind: 'pod', name: 'reviews-v1-abc' }],
    ['po/x', { kind: 'pod', name: 'x' }],
    ['deploy/productpage', { kind: 'deployments', name: 'productpage' }],
    ['deployments/productpage', { kind: 'deployments', name: 'productpage' }],
    ['sts/db', { kind: 'statefulsets', name: 'db' }],
    ['statefulset/db', { kind: 'statefulsets', name: 'db' }],
    ['ds/agent', { kind: 'daemonsets', name: 'agent' }],
  ])('%s', (target, expected) => {
    expect(parsePodTarget(target)).toEqual(expected)
  })

  it.each(['svc/ratings', 'deploy/', 'Reviews', 'pod/a b', '../etc'])('%j is a usage error', (target) => {
    const err = (() => {
      try {
        parsePodTarget(target)
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).exitCode).toBe(2)
  })
})

describe('closeNames', () => {
  const names = ['reviews-v1-cb8655c75-b97zc', 'reviews-v2-7fc9bb6dcf-9qsqb', 'ratings-v1-8558d4458d-ns6lk', 'productpage-v1-8554d58bff-d9wbg']

  it.each([
    ['a prefix finds the pods it starts', 'reviews', ['reviews-v1-cb8655c75-b97zc', 'reviews-v2-7fc9bb6dcf-9qsqb']],
    ['a typo finds the pod', 'ratings-v1-8558d4458d-ns6lx', ['ratings-v1-8558d4458d-ns6lk']],
    ['nothing close finds nothing', 'mysql', []],
  ])('%s', (_name, name, expected) => {
    expect(closeNames(name, names)).toEqual(expected)
  })
})

describe('selectorQuery', () => {
  it('writes matchLabels and matchExpressions in the API query syntax', () => {
    const workload = { spec: { selector: { matchLabels: { app: 'reviews', version: 'v1' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }, { key: 'canary', operator: 'DoesNotExist' }] } } }

    expect(selectorQuery(workload)).toBe('app=reviews,version=v1,tier in (a,b),!canary')
  })
})
