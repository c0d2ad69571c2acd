// The agent's own flags (the proxy's are in proxy-flags.test.ts). Every case here is refused
// while the flags are read, before the agent starts anything.
import t from 'tap'
import { runAgent } from '../../src/cli/agent.ts'

t.test('--container-log-max-files: a whole number, at least 2', async (t) => {
  for (const bad of ['1', '0', '-3', '2.5', 'many', ''])
    await t.rejects(runAgent([`--container-log-max-files=${bad}`]), new RegExp(`--container-log-max-files "${bad.replace('.', '\\.')}" must be a whole number, at least 2`), `rejects "${bad}"`)
})
