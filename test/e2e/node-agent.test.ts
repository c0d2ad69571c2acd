// The node agent end to end: a real API server and control plane, nodes as network
// namespaces on an underlay bridge, `weft agent` in each, pods as processes in their own
// namespaces wired by the CNI plugins.
import t from 'tap'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { resources } from '../../src/api/registry.ts'
import { listNetns } from '../../src/netlink/index.ts'
import { nodeInfo, podInfo, startCluster, until } from '../helpers/control-plane.ts'
import { execIn, startUnderlay, type TestNode } from '../helpers/nodes.ts'

const exec = promisify(execFile)
const leaseInfo = resources.find((r) => r.kind === 'Lease')!
const configMapInfo = resources.find((r) => r.kind === 'ConfigMap')!
const secretInfo = resources.find((r) => r.kind === 'Secret')!

t.setTimeout(240_000)

const cluster = await startCluster(t, {}, { socket: true, kubeletSocketsInDir: true })
// Logs rotate at 64 KiB (far above what the other pods here print).
const underlay = await startUnderlay(t, { socketPath: cluster.socketPath!, dir: cluster.dir, agentArgs: ['--volume-refresh-period', '1s', '--container-log-max-size', '64Ki', '--container-log-max-files', '2'] })
const nodeOne = await underlay.addNode('node-1')
const client = cluster.client

async function getPod(name: string, ns = 'default'): Promise<any> {
  return client.get<any>(podInfo, name, ns)
}

async function podWhen(name: string, what: string, check: (pod: any) => boolean, ms = 30_000): Promise<any> {
  let pod: any
  await until(`${name}: ${what}`, async () => {
    pod = await getPod(name).catch(() => undefined)
    return pod !== undefined && check(pod)
  }, ms)
  return pod
}

const isReady = (pod: any) => pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true

async function createPod(name: string, spec: object, node: TestNode = nodeOne): Promise<void> {
  await client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { nodeName: node.name, terminationGracePeriodSeconds: 5, ...spec } } as never)
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await exec('kubectl', ['--kubeconfig', cluster.kubeconfig, ...args])
  return stdout
}

function podNetns(node: TestNode, uid: string): string {
  return `${node.netns}-pod-${uid}`
}

function reservations(node: TestNode): string[] {
  const dir = join(node.dataDir, 'ipam', 'weft')
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d/.test(f)) : []
}

await t.test('the agent registers its node, heartbeats and writes the CNI config', async (t) => {
  let node: any
  await until('node-1 Ready', async () => {
    node = await client.get<any>(nodeInfo, 'node-1').catch(() => undefined)
    return node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
  }, 30_000)
  t.equal(node.status.capacity.pods, '110')
  t.ok(Number(node.status.capacity.cpu) >= 1)
  t.same(node.status.addresses.find((a: any) => a.type === 'InternalIP'), { type: 'InternalIP', address: nodeOne.ip })
  t.match(node.spec.podCIDR, /^10\.244\.\d+\.0\/24$/)
  const lease = await client.get<any>(leaseInfo, 'node-1', 'kube-node-lease')
  t.equal(lease.spec.holderIdentity, 'node-1')
  t.ok(existsSync(join(nodeOne.dataDir, 'net.d', '10-weft.conflist')))
})

let echoIP = ''
await t.test('a pod gets a sandbox, an IP from the node CIDR, and answers on it', async (t) => {
  await createPod('echo', { containers: [{ name: 'echo', image: 'weft/echo', readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 } }] })
  const pod = await podWhen('echo', 'Ready', isReady)
  const node = await client.get<any>(nodeInfo, 'node-1')
  echoIP = pod.status.podIP
  t.equal(echoIP.split('.').slice(0, 3).join('.'), node.spec.podCIDR.split('.').slice(0, 3).join('.'), 'the IP is in the node CIDR')
  t.equal(pod.status.hostIP, nodeOne.ip)
  t.ok(listNetns().includes(podNetns(nodeOne, pod.metadata.uid)), 'the pod has its own network namespace')
  const reply = JSON.parse(await execIn(nodeOne.netns, 'curl', ['-s', '--max-time', '5', `http://${echoIP}:8080/hello`]))
  t.equal(reply.pod, 'echo', 'the hostname inside is the pod name')
  t.equal(reply.path, '/hello')
  await until('the log has the listening line', async () => /listening/i.test(await kubectl('logs', 'echo')), 10_000)
  const podNs = podNetns(nodeOne, pod.metadata.uid)
  await execIn(podNs, 'ping', ['-c', '1', '-W', '2', nodeOne.ip])
  t.pass('the pod reaches its node')
  t.match(await execIn(podNs, 'ip', ['route', 'show', 'default']), /^default via 10\.244\.\d+\.1 dev eth0/, 'default route via the bridge gateway')
  // The bridge guards the pod's port against address spoofing (on by default in the config the agent writes).
  t.match(JSON.parse(readFileSync(join(nodeOne.dataDir, 'net.d', '10-weft.conflist'), 'utf8')).plugins[0], { type: 'weft-cni', antiSpoof: true })
  const guards = await execIn(nodeOne.netns, 'nft', ['list', 'table', 'bridge', 'weft-antispoof'])
  t.match(guards, new RegExp(`"veth[0-9a-f]{8}" : jump port-[0-9a-f]{8}-veth[0-9a-f]{8}`), 'the pod port has its guard')
  t.match(guards, new RegExp(`ip saddr ${echoIP.replaceAll('.', '\\.')} accept`), "the guard allows the pod's address")
})

await t.test('env from ConfigMaps, Secrets and the downward API; volumes; resolv.conf and hosts', async (t) => {
  await client.create(configMapInfo, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { greeting: 'hello', 'app.conf': 'mode=test\n' } } as never)
  await client.create(secretInfo, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec', namespace: 'default' }, stringData: { token: 's3cret' } } as never)
  const mountPath = join(cluster.dir, 'mnt', 'config')
  await mkdir(join(cluster.dir, 'mnt'), { recursive: true })
  await createPod('envy', {
    containers: [
      {
        name: 'main',
        image: 'debian',
        command: ['sh', '-c', 'echo "G=$GREETING T=$TOKEN IP=$MY_IP NODE=$NODE X=$EXPANDED"; cat $CONF/app.conf; cat /etc/resolv.conf; grep envy /etc/hosts; pwd; hostname; sleep 3600'],
        workingDir: '/tmp',
        env: [
          { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'greeting' } } },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'sec', key: 'token' } } },
          { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'EXPANDED', value: '$(GREETING)-world' },
          { name: 'CONF', value: mountPath },
        ],
        volumeMounts: [{ name: 'config', mountPath, readOnly: true }],
      },
    ],
    volumes: [{ name: 'config', configMap: { name: 'cfg' } }],
  })
  const pod = await podWhen('envy', 'Running', (p) => p.status?.phase === 'Running')
  let logs = ''
  await until('the script has printed', async () => /envy/.test((logs = await kubectl('logs', 'envy'))), 10_000)
  t.match(logs, `G=hello T=s3cret IP=${pod.status.podIP} NODE=node-1 X=hello-world`)
  t.match(logs, 'mode=test')
  t.match(logs, 'nameserver 10.96.0.10')
  t.match(logs, 'search default.svc.cluster.local svc.cluster.local cluster.local')
  t.match(logs, 'options ndots:5')
  t.match(logs, new RegExp(`${pod.status.podIP.replace(/\./g, '\\.')}\\s+envy`))
  t.match(logs, /^\/tmp$/m, 'workingDir')
  t.match(logs, /^envy$/m, 'hostname')
  t.notOk(existsSync(join(mountPath, 'app.conf')), 'the volume is mounted only inside the container')
  await client.create(podInfo, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'missing-ref', namespace: 'default' }, spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'debian', command: ['true'], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }] }] } } as never)
  const bad = await podWhen('missing-ref', 'config error', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError')
  t.match(bad.status.containerStatuses[0].state.waiting.message, /configmap "nope" not found/)
})

await t.test('a running pod sees ConfigMap, Secret and label changes in its volumes; secrets are on a tmpfs', async (t) => {
  await client.create(configMapInfo, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'live', namespace: 'default' }, data: { value: 'cm-one' } } as never)
  await client.create(secretInfo, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'live', namespace: 'default' }, stringData: { value: 'sec-one' } } as never)
  const dir = join(cluster.dir, 'mnt')
  await client.create(podInfo, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'watcher', namespace: 'default', labels: { stage: 'one' } },
    spec: {
      nodeName: 'node-1',
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'main',
        image: 'debian',
        command: ['sh', '-c', `while :; do echo "$(cat ${dir}/cm/value) $(cat ${dir}/sec/value) $(cat ${dir}/info/labels)"; sleep 0.2; done`],
        volumeMounts: [{ name: 'cm', mountPath: `${dir}/cm` }, { name: 'sec', mountPath: `${dir}/sec` }, { name: 'info', mountPath: `${dir}/info` }],
      }],
      volumes: [
        { name: 'cm', configMap: { name: 'live' } },
        { name: 'sec', secret: { secretName: 'live' } },
        { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
      ],
    },
  } as never)
  const pod = await podWhen('watcher', 'Running', (p) => p.status?.phase === 'Running')
  const logs = (text: string, ms = 15_000) => until(`the pod prints ${text}`, async () => (await kubectl('logs', 'watcher', '--tail', '1')).includes(text), ms)
  await logs('cm-one sec-one stage="one"')
  // The objects are read again every --volume-refresh-period (1 s here), by the pod's next
  // sync (the resync runs every 10 s); a change of the pod itself rewrites at once.
  await client.patch(configMapInfo, 'live', 'default', { data: { value: 'cm-two' } }, 'merge')
  await client.patch(secretInfo, 'live', 'default', { stringData: { value: 'sec-two' } }, 'merge')
  await logs('cm-two sec-two stage="one"', 25_000)
  await client.patch(podInfo, 'watcher', 'default', { metadata: { labels: { stage: 'two' } } }, 'merge')
  await logs('cm-two sec-two stage="two"')
  t.pass('the new contents reached the running container')
  const volumes = join(nodeOne.dataDir, 'pods', pod.metadata.uid, 'volumes')
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
  t.match(mounts, new RegExp(` ${volumes}/sec [^ ]*nosuid,nodev,noexec[^ ]* (.* )?- tmpfs `), 'the secret volume is a tmpfs')
  t.notMatch(mounts, ` ${volumes}/cm `, 'the configMap volume is not')
  t.equal(statSync(join(volumes, 'sec', 'value')).mode & 0o777, 0o644, 'the mode the API server defaulted')
  t.equal(statSync(join(nodeOne.dataDir, 'pods', pod.metadata.uid)).mode & 0o777, 0o700)
  await client.delete(podInfo, 'watcher', 'default')
  await until('watcher is gone', async () => (await getPod('watcher').catch(() => undefined)) === undefined, 20_000)
  t.notMatch(readFileSync('/proc/self/mountinfo', 'utf8'), volumes, 'its tmpfs went with it')
})

await t.test('crashing containers restart with backoff; logs of the previous run', async (t) => {
  await createPod('crasher', { containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', 'echo "run at $(date +%s%N)"; exit 3'] }] })
  const pod = await podWhen('crasher', 'in CrashLoopBackOff', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff')
  const st = pod.status.containerStatuses[0]
  t.ok(st.restartCount >= 1)
  t.equal(st.lastState.terminated.exitCode, 3)
  t.equal(st.lastState.terminated.reason, 'Error')
  t.match(await kubectl('logs', 'crasher', '--previous'), /^run at \d+/)
  await createPod('once', { restartPolicy: 'Never', containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', 'exit 0'] }] })
  const done = await podWhen('once', 'Succeeded', (p) => p.status?.phase === 'Succeeded')
  t.equal(done.status.containerStatuses[0].state.terminated.exitCode, 0)
  t.equal(done.status.containerStatuses[0].restartCount, 0)
})

await t.test('securityContext: the user and groups, dropped capabilities, no_new_privs, and runAsNonRoot refusing root', async (t) => {
  const report = 'id -u; id -g; id -G; grep -E "^(CapBnd|NoNewPrivs):" /proc/self/status; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; ping -c1 -W1 127.0.0.1 >/dev/null 2>&1 && echo ping-ok || echo ping-refused'
  await createPod('as-user', { restartPolicy: 'Never', securityContext: { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000] }, containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', report], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }] })
  await createPod('as-default', { restartPolicy: 'Never', containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', report] }] })
  await createPod('no-raw', { restartPolicy: 'Never', containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', report], securityContext: { capabilities: { drop: ['NET_RAW'] } } }] })
  for (const name of ['as-user', 'as-default', 'no-raw']) await podWhen(name, 'Succeeded', (p) => p.status?.phase === 'Succeeded')
  const asUser = (await kubectl('logs', 'as-user')).trim().split('\n')
  t.same(asUser.slice(0, 3), ['1000', '3000', '3000 4000'], 'runs as runAsUser, runAsGroup and supplementalGroups')
  t.same(asUser.slice(3, 5), ['CapBnd:\t0000000000000000', 'NoNewPrivs:\t1'], 'no capabilities at all, no_new_privs')
  t.equal(asUser[5], 'default', 'and still reads its service-account volume (0755 directories)')
  const asDefault = (await kubectl('logs', 'as-default')).trim().split('\n')
  t.equal(asDefault[0], '0', 'a pod that says nothing runs as root…')
  t.not(asDefault[3], 'CapBnd:\t000001ffffffffff', '…but not with all of root\'s capabilities')
  t.equal(asDefault.at(-1), 'ping-ok', 'NET_RAW is in the default set')
  t.equal((await kubectl('logs', 'no-raw')).trim().split('\n').at(-1), 'ping-refused', 'dropping NET_RAW stops ping')
  await createPod('host-etc', { volumes: [{ name: 'etc', hostPath: { path: '/etc' } }], containers: [{ name: 'c', image: 'debian', command: ['sleep', '3600'], volumeMounts: [{ name: 'etc', mountPath: '/host-etc' }] }] })
  const noHostPath = await podWhen('host-etc', 'refused', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError')
  t.match(noHostPath.status.containerStatuses[0].state.waiting.message, /hostPath volume "etc" \("\/etc"\) is not allowed on this node: it allows only under \S+\/apiserver\.sock \(weft agent --allow-host-path\)/, 'hostPath is refused unless the node allows the path (only its own API socket here)')
  await createPod('non-root', { securityContext: { runAsNonRoot: true }, containers: [{ name: 'c', image: 'debian', command: ['sleep', '3600'] }] })
  const refused = await podWhen('non-root', 'refused', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError')
  t.match(refused.status.containerStatuses[0].state.waiting.message, /container has runAsNonRoot and image will run as root \(pod: "non-root_default\(.+\)", container: c\)/)
})

await t.test('isolation: pid namespaces, a private /dev, readOnlyRootFilesystem, fsGroup, termination messages, lifecycle hooks, kubectl debug', async (t) => {
  const script = [
    'echo pid=$$$$',
    'ls /dev | tr "\\n" " "; echo',
    'touch /etc/weft-e2e-probe 2>/dev/null && echo etc=writable || echo etc=readonly',
    'touch /tmp/x && echo tmp=writable',
    'touch /data/x && stat -c "data=%g %a" /data /data/x',
    'id -G',
    'cat /tmp/../data/started 2>/dev/null || echo no-poststart',
    'printf "bye from c" > /dev/termination-log',
  ].join('; ')
  await createPod('iso', {
    restartPolicy: 'Never',
    securityContext: { runAsUser: 1000, fsGroup: 2000 },
    volumes: [{ name: 'data', emptyDir: {} }],
    containers: [{
      name: 'c', image: 'debian', command: ['sh', '-c', `sleep 1; ${script}`],
      securityContext: { readOnlyRootFilesystem: true },
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
      lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo poststart-ran > /data/started'] } } },
    }],
  })
  const done = await podWhen('iso', 'Succeeded', (p) => p.status?.phase === 'Succeeded')
  const out = (await kubectl('logs', 'iso')).trim().split('\n')
  t.ok(Number(out[0]!.slice(4)) < 100, `a pid namespace of its own (${out[0]})`)
  t.same(out[1]!.trim().split(' ').sort(), ['fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'termination-log', 'tty', 'urandom', 'zero'], 'a /dev of its own: no host disks')
  t.equal(out[2], 'etc=readonly', 'readOnlyRootFilesystem: /etc cannot be written')
  t.equal(out[3], 'tmp=writable', '…but a fresh /tmp can')
  t.same(out.slice(4, 6), ['data=2000 2777', 'data=2000 644'], 'fsGroup owns the emptyDir (setgid) and what is made in it')
  t.equal(out[6], '1000 2000', 'the fsGroup is a supplemental group')
  t.equal(out[7], 'poststart-ran', 'the postStart hook ran before the main work')
  t.equal(done.status.containerStatuses[0].state.terminated.message, 'bye from c', 'the termination message is reported')
  t.notOk(existsSync('/etc/weft-e2e-probe'))
  // Without readOnlyRootFilesystem a root container writes anywhere in its view, and the host keeps its files.
  await createPod('cow', { restartPolicy: 'Never', containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', 'echo mine > /etc/weft-e2e-cow && cat /etc/weft-e2e-cow'] }] })
  await podWhen('cow', 'Succeeded', (p) => p.status?.phase === 'Succeeded')
  t.equal((await kubectl('logs', 'cow')).trim(), 'mine', 'the container wrote /etc in its own layer')
  t.notOk(existsSync('/etc/weft-e2e-cow'), 'the host\'s /etc is unchanged')

  // preStop runs within the grace period before TERM; kubectl debug adds an ephemeral container sharing c's processes.
  await createPod('hooks', {
    volumes: [{ name: 'data', emptyDir: {} }],
    containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'], volumeMounts: [{ name: 'data', mountPath: '/data' }], lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop-ran > /data/stopped'] } } } }],
  })
  const hooks = await podWhen('hooks', 'Running', (p) => p.status?.phase === 'Running')
  await kubectl('debug', 'hooks', '--image=busybox', '-c', 'dbg', '--target=c', '--', 'sh', '-c', 'ps -e -o args= | grep -c "^sh -c trap"; exec sleep 3600')
  const debugged = await podWhen('hooks', 'the ephemeral container runs', (p) => p.status?.ephemeralContainerStatuses?.[0]?.state?.running !== undefined)
  t.equal(debugged.status.ephemeralContainerStatuses[0].ready, false)
  await until('the debug container logs', async () => (await kubectl('logs', 'hooks', '-c', 'dbg')).trim() === '1', 10_000)
  t.pass('the ephemeral container sees the target container\'s processes')
  const data = join(nodeOne.dataDir, 'pods', hooks.metadata.uid, 'volumes', 'data')
  await client.delete(podInfo, 'hooks', 'default')
  await until('the preStop hook ran', async () => existsSync(join(data, 'stopped')), 10_000)
  t.equal(readFileSync(join(data, 'stopped'), 'utf8'), 'prestop-ran\n')
})

await t.test('container logs rotate at --container-log-max-size; kubectl logs reads across the files', async (t) => {
  // 100,000 bytes in 1,000 lines, then quiet.
  await createPod('logger', { containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', String.raw`head -c 99000 /dev/zero | tr '\0' x | fold -w 99; echo; exec sleep 3600`] }] })
  const pod = await podWhen('logger', 'Running', (p) => p.status?.phase === 'Running')
  const logs = join(nodeOne.dataDir, 'pods', pod.metadata.uid, 'logs', 'c')
  // The agent looks every 10 s.
  await until('the log is rotated', async () => readdirSync(logs).some((n) => /^0\.log\.\d{8}-\d{6}$/.test(n)), 25_000)
  t.pass('rotated at 64 KiB, not at the default 10 MiB')
  t.equal((await kubectl('logs', 'logger')).split('\n').filter((l) => l === 'x'.repeat(99)).length, 1000, 'every line, once')
  await client.delete(podInfo, 'logger', 'default', { gracePeriodSeconds: 0 })
  await until('logger is gone', async () => (await getPod('logger').catch(() => undefined)) === undefined, 20_000)
})

await t.test('liveness, readiness and startup probes', async (t) => {
  const dataDir = join(cluster.dir, 'mnt', 'probe-data')
  await createPod('probed', {
    containers: [
      {
        name: 'web',
        image: 'registry.k8s.io/e2e-test-images/agnhost:2.53',
        args: ['netexec', '--http-port=8081', '--udp-port=-1'],
        ports: [{ name: 'http', containerPort: 8081 }],
        startupProbe: { tcpSocket: { port: 'http' }, periodSeconds: 1, failureThreshold: 30 },
        readinessProbe: { exec: { command: ['test', '-f', `${dataDir}/ready`] }, periodSeconds: 1 },
        volumeMounts: [{ name: 'data', mountPath: dataDir }],
      },
      { name: 'dies', image: 'debian', command: ['sleep', '3600'], livenessProbe: { tcpSocket: { port: 9999 }, periodSeconds: 1, failureThreshold: 2 } },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
  })
  const pod = await podWhen(
    'probed',
    'liveness restarted the second container and the first has started',
    (p) => (p.status?.containerStatuses?.find((c: any) => c.name === 'dies')?.restartCount ?? 0) >= 1 && p.status?.containerStatuses?.find((c: any) => c.name === 'web')?.started === true,
  )
  t.notOk(isReady(pod), 'not ready while the readiness file is missing')
  const web = pod.status.containerStatuses.find((c: any) => c.name === 'web')
  t.equal(web.started, true, 'the startup probe passed')
  t.equal(web.ready, false)
  await execIn(podNetns(nodeOne, pod.metadata.uid), 'nsenter', ['-t', String(await webPid(pod.metadata.uid)), '-m', '-r', 'touch', `${dataDir}/ready`])
  const ready = await podWhen('probed', 'web ready', (p) => p.status?.containerStatuses?.find((c: any) => c.name === 'web')?.ready === true)
  t.equal(ready.status.containerStatuses.find((c: any) => c.name === 'web').restartCount, 0)
})

async function webPid(uid: string): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const rec = JSON.parse(await readFile(join(nodeOne.dataDir, 'pods', uid, 'containers', 'web.json'), 'utf8'))
  return rec.process.pid
}

await t.test('a hostNetwork pod uses the node address', async (t) => {
  await createPod('hostnet', { hostNetwork: true, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] })
  const pod = await podWhen('hostnet', 'Running', (p) => p.status?.phase === 'Running')
  t.equal(pod.status.podIP, nodeOne.ip)
  t.notOk(listNetns().includes(podNetns(nodeOne, pod.metadata.uid)))
})

await t.test('deletion stops the containers gracefully and removes the sandbox and the IP', async (t) => {
  await createPod('graceful', { containers: [{ name: 'c', image: 'debian', command: ['sh', '-c', 'trap "echo got TERM; exit 0" TERM; while true; do sleep 0.1; done'] }] })
  const pod = await podWhen('graceful', 'Running', (p) => p.status?.phase === 'Running')
  const before = reservations(nodeOne).length
  await client.delete(podInfo, 'graceful', 'default')
  await until('the pod is gone from the API', async () => (await getPod('graceful').catch(() => undefined)) === undefined, 20_000)
  t.notOk(listNetns().includes(podNetns(nodeOne, pod.metadata.uid)), 'no namespace left')
  t.notOk(existsSync(join(nodeOne.dataDir, 'pods', pod.metadata.uid)), 'no pod directory left')
  t.equal(reservations(nodeOne).length, before - 1, 'the IP is released')
  const links = await execIn(nodeOne.netns, 'ip', ['-o', 'link', 'show', 'type', 'veth'])
  const hostVeths = links.trim().split('\n').filter((l) => !/ eth0@/.test(l)).map((l) => l.split(':')[1]!.trim())
  const pods = (await client.list<any>(podInfo)).items.filter((p) => p.spec.nodeName === 'node-1' && !p.spec.hostNetwork && p.status?.phase !== 'Succeeded')
  t.equal(hostVeths.length, pods.length, `one host veth per pod with a sandbox: ${hostVeths.join(' | ')}`)
})

await t.test('a restarted agent adopts running pods and cleans up the ones deleted meanwhile', async (t) => {
  const echo = await getPod('echo')
  await createPod('doomed', { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] })
  const doomed = await podWhen('doomed', 'Running', (p) => p.status?.phase === 'Running')
  await nodeOne.stop()
  await client.delete(podInfo, 'doomed', 'default', { gracePeriodSeconds: 0 })
  // A ConfigMap a running pod mounts changes while no agent runs.
  await client.patch(configMapInfo, 'cfg', 'default', { data: { 'app.conf': 'mode=changed-while-down\n' } }, 'merge')
  const reply = JSON.parse(await execIn(nodeOne.netns, 'curl', ['-s', '--max-time', '5', `http://${echoIP}:8080/`]))
  t.equal(reply.pod, 'echo', 'pods keep running while the agent is down')
  nodeOne.start()
  await until('the deleted pod is cleaned up', async () => !listNetns().includes(podNetns(nodeOne, doomed.metadata.uid)), 30_000)
  const envy = await getPod('envy')
  const envyPid = JSON.parse(readFileSync(join(nodeOne.dataDir, 'pods', envy.metadata.uid, 'containers', 'main.json'), 'utf8')).process.pid
  await until('the adopted pod sees the new ConfigMap', async () =>
    (await exec('nsenter', ['-t', String(envyPid), '-m', '-r', 'cat', join(cluster.dir, 'mnt', 'config', 'app.conf')])).stdout === 'mode=changed-while-down\n', 15_000)
  t.pass('an adopted pod gets its volumes refreshed')
  const after = await podWhen('echo', 'still ready', isReady)
  t.equal(after.status.podIP, echo.status.podIP, 'same IP')
  t.equal(after.status.containerStatuses[0].restartCount, 0, 'not restarted')
  t.equal(after.status.containerStatuses[0].containerID, echo.status.containerStatuses[0].containerID)
  const ips = (await client.list<any>(podInfo)).items.filter((p) => p.status?.podIP && !p.spec.hostNetwork && p.status.phase === 'Running').map((p) => p.status.podIP)
  t.equal(new Set(ips).size, ips.length, 'no duplicate IPs')
})

await t.test('pods on different nodes reach each other (host-gw)', async (t) => {
  const nodeTwo = await underlay.addNode('node-2')
  await until('node-2 Ready', async () => {
    const n = await client.get<any>(nodeInfo, 'node-2').catch(() => undefined)
    return n?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') === true
  }, 30_000)
  await createPod('far', { containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec', '--http-port=8080', '--udp-port=8081'] }] }, nodeTwo)
  const far = await podWhen('far', 'Running', (p) => p.status?.phase === 'Running')
  const echo = await getPod('echo')
  await until('pod on node-1 reaches the pod on node-2', async () =>
    execIn(podNetns(nodeOne, echo.metadata.uid), 'curl', ['-s', '--max-time', '2', `http://${far.status.podIP}:8080/hostname`]).then((out) => out === 'far', () => false),
  20_000)
  const clientIP = await execIn(podNetns(nodeTwo, far.metadata.uid), 'curl', ['-s', '--max-time', '2', `http://${echo.status.podIP}:8080/`])
  const seenFrom = String(JSON.parse(clientIP).remoteAddress).replace('::ffff:', '').replace(/^\[?(.*?)\]?:\d+$/, '$1')
  t.equal(seenFrom, far.status.podIP, 'no NAT between pods')
  const fromNode = await execIn(nodeOne.netns, 'curl', ['-s', '--max-time', '2', `http://${far.status.podIP}:8080/hostname`])
  t.equal(fromNode, 'far', 'node to pod on another node')

  // hostPort goes through the reference portmap plugin in the node's chain.
  await createPod('porty', { containers: [{ name: 'c', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['serve-hostname', '--port=9376'], ports: [{ containerPort: 9376, hostPort: 30080 }] }] }, nodeTwo)
  await podWhen('porty', 'Running', (p) => p.status?.phase === 'Running')
  await until('hostPort answers on node-2', () => execIn(nodeOne.netns, 'curl', ['-s', '--max-time', '2', `http://${nodeTwo.ip}:30080/`]).then((out) => out === 'porty', () => false), 20_000)
  await client.delete(podInfo, 'porty', 'default')
  await until('porty gone', async () => (await getPod('porty').catch(() => undefined)) === undefined, 20_000)
  const rules = await execIn(nodeTwo.netns, 'iptables-save', ['-t', 'nat'])
  t.notMatch(rules, '30080', 'the hostPort rules went with the pod')
})
