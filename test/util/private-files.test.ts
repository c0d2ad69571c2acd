// Data dirs weft makes are 0700; one that was there keeps its mode, and the caller learns
// whether others can read it (weft server and weft agent warn then).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { makePrivateDir } from '../../src/util/private-files.ts'

const root = mkdtempSync(join(tmpdir(), 'weft-private-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))

const mode = (path: string) => statSync(path).mode & 0o777

t.test('a new data dir (and its missing parents) is made 0700', async (t) => {
  const dir = join(root, 'new', 'data')
  t.same(makePrivateDir(dir), { openToOthers: false })
  t.equal(mode(dir), 0o700)
  t.equal(mode(join(root, 'new')), 0o700)
})

t.test('an existing data dir keeps its mode; one others can read or enter is reported', async (t) => {
  for (const [name, m, open] of [['shared', 0o755, true], ['group', 0o710, true], ['private', 0o700, false]] as const) {
    const dir = join(root, name)
    mkdirSync(dir)
    chmodSync(dir, m)
    t.same(makePrivateDir(dir), { openToOthers: open }, `${m.toString(8)}: openToOthers ${open}`)
    t.equal(mode(dir), m, `${m.toString(8)} is left as it is`)
  }
})

t.test('a file where the data dir should be is an error that says so', async (t) => {
  const file = join(root, 'file')
  writeFileSync(file, '')
  t.throws(() => makePrivateDir(file), /exists and is not a directory; choose another path/)
})
