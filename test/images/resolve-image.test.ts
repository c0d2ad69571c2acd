import t from 'tap'
import type { V1Container } from '@kubernetes/client-node'
import { ImageError, imageRepository, imagesMain, nodeBinary, resolveImage } from '../../src/images/resolve-image.ts'
import { dnsNodeFlags } from '../../dns/node-flags.ts'

const builtin = (...rest: string[]): string[] => [nodeBinary, '--disable-warning=ExperimentalWarning', imagesMain, ...rest]

t.test('paths are absolute and inside the repository', async (t) => {
  t.match(nodeBinary, /^\/.*\/node_modules\/\.bin\/node$/)
  t.match(imagesMain, /^\/.*\/src\/images\/images\.mjs$/)
})

t.test('imageRepository drops registry, tag and digest', async (t) => {
  const cases: [string, string][] = [
    ['registry.k8s.io/pause:3.10', 'pause'],
    ['registry.k8s.io/e2e-test-images/agnhost:2.53', 'e2e-test-images/agnhost'],
    ['localhost:5000/weft/echo:v1', 'weft/echo'],
    ['weft/echo@sha256:abcd', 'weft/echo'],
    ['docker.io/library/busybox:1.36', 'busybox'],
    ['busybox', 'busybox'],
  ]
  for (const [image, repo] of cases) t.equal(imageRepository(image), repo, image)
})

t.test('resolveImage', async (t) => {
  const cases: { name: string; c: Omit<V1Container, 'name'>; want: string[] }[] = [
    { name: 'weft/echo, any tag', c: { image: 'weft/echo:0.1' }, want: builtin('echo') },
    { name: 'weft/echo args', c: { image: 'ghcr.io/weft/echo', args: ['--port=9000'] }, want: builtin('echo', '--port=9000') },
    {
      name: 'weft/dns runs weft dns with the args, and its Node flags',
      c: { image: 'weft/dns', args: ['--zone', 'cluster.local'] },
      want: [nodeBinary, '--disable-warning=ExperimentalWarning', ...dnsNodeFlags, imagesMain, 'dns', '--zone', 'cluster.local'],
    },
    { name: 'agnhost: subcommand from args', c: { image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec', '--http-port=8080'] }, want: builtin('netexec', '--http-port=8080') },
    { name: 'agnhost: subcommand from command', c: { image: 'k8s.gcr.io/e2e-test-images/agnhost:2.32', command: ['/agnhost', 'netexec'], args: ['--udp-port=-1'] }, want: builtin('netexec', '--udp-port=-1') },
    { name: 'agnhost: command without path', c: { image: 'gcr.io/kubernetes-e2e-test-images/agnhost:2.8', command: ['agnhost', 'serve-hostname'] }, want: builtin('serve-hostname') },
    { name: 'agnhost: default args are pause', c: { image: 'registry.k8s.io/e2e-test-images/agnhost:2.53' }, want: ['sleep', 'infinity'] },
    { name: 'agnhost pause', c: { image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['pause'] }, want: ['sleep', 'infinity'] },
    { name: 'agnhost with a host command', c: { image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', command: ['sh', '-c', 'sleep 1'] }, want: ['sh', '-c', 'sleep 1'] },
    { name: 'pause', c: { image: 'registry.k8s.io/pause:3.10' }, want: ['sleep', 'infinity'] },
    { name: 'old pause', c: { image: 'k8s.gcr.io/pause-amd64:3.1' }, want: ['sleep', 'infinity'] },
    { name: 'pause with its own command', c: { image: 'registry.k8s.io/pause', command: ['/pause'] }, want: ['sleep', 'infinity'] },
    { name: 'serve_hostname', c: { image: 'registry.k8s.io/serve_hostname:v1.4', args: ['--udp', '--http=false'] }, want: builtin('serve-hostname', '--udp', '--http=false') },
    { name: 'serve-hostname', c: { image: 'registry.k8s.io/e2e-test-images/serve-hostname:1.1' }, want: builtin('serve-hostname') },
    { name: 'host command with args', c: { image: 'busybox:1.36', command: ['/bin/sh', '-c'], args: ['echo hi'] }, want: ['/bin/sh', '-c', 'echo hi'] },
    { name: 'host command, image ignored', c: { image: 'nginx', command: ['python3', '-m', 'http.server'] }, want: ['python3', '-m', 'http.server'] },
  ]
  for (const { name, c, want } of cases) t.same(resolveImage({ name: 'c', ...c }).command, want, name)
})

t.test('resolveImage errors', async (t) => {
  t.throws(() => resolveImage({ name: 'web', image: 'nginx:1.27' }), { name: 'ImageError', code: 'NoCommand', message: /"nginx:1.27".*no container engine/ })
  t.throws(() => resolveImage({ name: 'web', image: 'nginx', args: ['-g', 'daemon off;'] }), { code: 'NoCommand' })
  t.throws(() => resolveImage({ name: 'x', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['liveness'] }), {
    code: 'UnsupportedSubcommand',
    message: /agnhost subcommand "liveness".*netexec/,
  })
  t.throws(() => resolveImage({ name: 'x', image: 'agnhost', command: ['/agnhost'] }), { code: 'UnsupportedSubcommand' })
  t.ok(new ImageError('NoCommand', 'm') instanceof Error)
})
