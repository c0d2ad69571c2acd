import t from 'tap'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CommandError, isNotInstalled, run, Spawner, useSpawner } from '../../src/netlink/index.ts'

t.test('commands run through the spawner like direct spawns', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-spawner-'))
  const spawner = new Spawner(dir)
  t.teardown(async () => {
    useSpawner(undefined)
    spawner.close()
    await rm(dir, { recursive: true, force: true })
  })
  useSpawner(spawner)
  t.equal(await run('sh', ['-c', 'echo "$$ out"; echo err >&2']).then((s) => / out\n$/.test(s)), true, 'stdout comes back')
  t.equal(await run('cat', [], { input: 'piped in' }), 'piped in', 'stdin goes in')
  const err = await run('sh', ['-c', 'echo broken >&2; exit 3']).catch((e: unknown) => e)
  t.ok(err instanceof CommandError)
  t.equal((err as CommandError).code, 3)
  t.match((err as CommandError).stderr, 'broken')
  const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => run('echo', [`job ${i}`])))
  t.same(outs, Array.from({ length: 20 }, (_, i) => `job ${i}\n`), 'concurrent jobs keep their own output')
  t.equal(spawner.canRun('echo', ['a\tb']), false, 'tabs cannot cross the line protocol')
  t.equal(await run('printf', ['%s', 'a\tb']), 'a\tb', 'so such commands are spawned directly')
  t.same(await readdir(dir), [], 'no job files left')
})

t.test('a command that is not installed fails the same way through the spawner as spawned directly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-spawner-'))
  const spawner = new Spawner(dir)
  t.teardown(async () => {
    useSpawner(undefined)
    spawner.close()
    await rm(dir, { recursive: true, force: true })
  })
  const direct = (await run('weft-no-such-command', ['-f', '-']).catch((e: unknown) => e)) as CommandError
  t.ok(isNotInstalled(direct), `spawned directly: ${direct.message}`)
  useSpawner(spawner)
  for (const file of ['weft-no-such-command', '/nonexistent/weft-no-such-command']) {
    const viaSpawner = (await run(file, ['-f', '-']).catch((e: unknown) => e)) as CommandError
    t.ok(viaSpawner instanceof CommandError)
    t.ok(isNotInstalled(viaSpawner), `through the spawner: ${viaSpawner.message}`)
    t.match(viaSpawner.message, `${file} is not installed`)
  }
  const exit127 = (await run('sh', ['-c', 'echo "x: command not found" >&2; exit 127']).catch((e: unknown) => e)) as CommandError
  t.notOk(isNotInstalled(exit127), 'a command that runs and exits 127 is not a missing command')
})
