// Where `weft server` keeps its state unless told otherwise.
import { homedir } from 'node:os'
import { join } from 'node:path'

export function defaultDataDir(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  return join(state, 'weft')
}
