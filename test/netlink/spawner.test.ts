import t from 'tap'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CommandError, isNotInstalled, run, Spawner, useSpawner } from '../../src/netlink/index.ts'
import { IpSession } from '../../src/netlink/bridge.ts'

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

t.test('a job that hangs is killed at its deadline and reported, and the spawner goes on', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-spawner-'))
  const spawner = new Spawner(dir, { jobTimeoutMs: 1_000 })
  t.teardown(async () => {
    spawner.close()
    await rm(dir, { recursive: true, force: true })
  })
  const started = Date.now()
  const err = (await spawner.run('sleep', ['30']).catch((e: unknown) => e)) as CommandError
  t.ok(err instanceof CommandError)
  t.match(err.message, /^sleep 30: did not finish within 1 s and was killed/)
  t.ok(Date.now() - started < 5_000, `answered in ${Date.now() - started} ms`)
  t.equal(await spawner.run('echo', ['after']), 'after\n', 'the next job runs')
  const ignoresTerm = (await spawner.run('sh', ['-c', 'trap "" TERM; sleep 30']).catch((e: unknown) => e)) as CommandError
  t.match(ignoresTerm.message, /did not finish within 1 s and was killed/, 'one that ignores SIGTERM is killed too')
})

t.test('an ip session whose batch never finishes is ended at its deadline, with the lines named', async (t) => {
  // cat never prints ip's "Command failed" marker line: the batch never finishes.
  const session = new IpSession({ timeoutMs: 500, command: ['cat', []] })
  t.teardown(() => session.close())
  const err = (await session.run(['link add dummy0 type dummy']).catch((e: unknown) => e)) as CommandError
  t.ok(err instanceof CommandError)
  t.match(err.message, /^ip -batch: link add dummy0 type dummy: did not finish within 0\.5 s; the ip session was ended/)
  t.equal(session.alive, false, 'its owner starts a new one')
  t.rejects(session.run(['link show']), /did not finish/, 'later batches fail at once')
})
