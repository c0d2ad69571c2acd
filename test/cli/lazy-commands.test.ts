// `weft <command>` loads only that command's modules: a node agent carries no API server,
// Ingress controller or lab code, and the other way round (a module loaded is memory held for
// the process's life: ~50 MiB per node process before).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const repo = resolve(import.meta.dirname, '../..')
const node = resolve(repo, 'node_modules/.bin/node')
const main = resolve(repo, 'src/cli/main.ts')
const recorder = pathToFileURL(resolve(repo, 'test/helpers/programs/record-modules.ts')).href

function modulesOf(args: string[]): string[] {
  const r = spawnSync(node, ['--disable-warning=ExperimentalWarning', '--import', recorder, main, ...args], { encoding: 'utf8', timeout: 60_000 })
  const line = r.stderr.split('\n').find((l) => l.startsWith('{"modules":'))
  if (!line) throw new Error(`no module list from weft ${args.join(' ')}: ${r.stderr.slice(-2000)}`)
  return (JSON.parse(line) as { modules: string[] }).modules.filter((u) => u.startsWith(pathToFileURL(repo).href)).map((u) => u.slice(pathToFileURL(repo).href.length + 1))
}

const components: Record<string, string> = {
  'the API server': 'src/apiserver/server.ts',
  'the Ingress controller': 'ingress/server.ts',
  'the DNS server': 'dns/run.ts',
  'the lab': 'src/lab/up.ts',
  'the kubelet': 'src/kubelet/kubelet.ts',
  'the load tool': 'load/engine.ts',
}

const cases: [string[], string[]][] = [
  [['agent', '--help'], ['the API server', 'the Ingress controller', 'the DNS server', 'the lab', 'the load tool']],
  [['dns', '--help'], ['the API server', 'the Ingress controller', 'the lab', 'the kubelet', 'the load tool']],
  [['ingress', '--help'], ['the API server', 'the DNS server', 'the lab', 'the kubelet', 'the load tool']],
  [['proxy', '--help'], ['the API server', 'the Ingress controller', 'the DNS server', 'the lab', 'the kubelet', 'the load tool']],
  [['server', '--help'], ['the Ingress controller', 'the DNS server', 'the lab', 'the kubelet', 'the load tool']],
  [['--help'], Object.keys(components)],
]

for (const [args, absent] of cases) {
  t.test(`weft ${args.join(' ')}`, async (t) => {
    const modules = modulesOf(args)
    t.ok(modules.includes('src/cli/main.ts'), 'the module list was recorded')
    for (const what of absent) t.notOk(modules.includes(components[what]!), `does not load ${what}`)
  })
}

t.test('a command is what it names (no inherited property of the table)', async (t) => {
  const r = spawnSync(node, ['--disable-warning=ExperimentalWarning', main, 'constructor'], { encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 2)
  t.match(r.stderr, /unknown command "constructor"/)
})
