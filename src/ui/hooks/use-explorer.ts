import { useEffect, useReducer } from 'react'
import { useApp, useInput, type Key } from 'ink'
import { createExplorerState, explorerKey, splitKeys, withLayout, type ExplorerLayout, type ExplorerState, type Retrace } from '../explorer-state.js'
import type { Request } from '../../engine/trace/request.js'
import type { Trace } from '../../engine/trace/trace.js'

type Action = { type: 'key'; input: string; key: Partial<Key> } | { type: 'layout'; layout: ExplorerLayout }

function reduce(state: ExplorerState, action: Action): ExplorerState {
  return action.type === 'key' ? explorerKey(state, action.input, action.key) : withLayout(state, action.layout)
}

/**
 * The explorer's state and its key bindings: every key goes through one reducer (`explorerKey`), so
 * keys that arrive together (a paste, tmux send-keys) each see the state the previous one left.
 * Quitting (`q`) exits the ink app.
 */
export function useExplorer(options: { initial: Trace; request: Request; retrace: Retrace; followable?: boolean; layout: ExplorerLayout }): ExplorerState {
  const [state, dispatch] = useReducer(reduce, options, createExplorerState)
  const { exit } = useApp()
  useInput((input, key) => {
    for (const [one, k] of splitKeys(input, key)) dispatch({ type: 'key', input: one, key: k })
  })
  useEffect(() => {
    dispatch({ type: 'layout', layout: options.layout })
  }, [options.layout.detailWidth, options.layout.bodyHeight])
  useEffect(() => {
    if (state.quit) exit()
  }, [state.quit, exit])
  return withLayout(state, options.layout)
}
