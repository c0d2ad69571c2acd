// `weft up`, `weft down` and `weft lab exec`: a multi-node lab cluster on this host.
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { labDown } from '../lab/down.ts'
import { labExec } from '../lab/exec.ts'
import { DEMO_INGRESS_HOST } from '../lab/demo.ts'
import { labUp } from '../lab/up.ts'
import { API_RELAY_READY, startApiRelay } from '../lab/api-relay.ts'
import { MAX_NODES, UNDERLAY_CIDR } from '../lab/topology.ts'
import { LabAbortedError } from '../lab/wait.ts'

export const DEFAULT_LAB_DIR = '.weft-lab'

const dataDirFlag = `  --data-dir DIR               the lab's state, logs and sockets (default ./${DEFAULT_LAB_DIR})`

export const upUsage = `Usage: weft up [flags]

Starts a lab cluster on this host (as root): the API server on loopback and a unix
socket, and N nodes, each a network namespace on an underlay bridge (${UNDERLAY_CIDR})
running a weft agent; then applies the demo app and waits for its pods, its Service,
the cluster DNS and its Ingress, whose HTTPS port on the first node is relayed to a port
on this host's loopback (8443 unless taken).

Flags:
  --nodes N                    how many nodes, 1 to ${MAX_NODES} (default 1)
${dataDirFlag}
  --no-demo                    do not apply the demo manifests
  --no-agents                  start no agents (control plane and namespaces only; implies --no-demo)
  --timeout SECONDS            how long to wait for each step (default 120)
  -h, --help                   show this help
`

export const downUsage = `Usage: weft down [flags]

Stops the lab and removes everything it made: its processes, network namespaces,
mounts and data dir. Succeeds when there is nothing to remove.

Flags:
${dataDirFlag}
  -h, --help                   show this help
`

export const labUsage = `Usage: weft lab exec [flags] NODE|POD|NAMESPACE/POD -- COMMAND [ARG…]

Runs COMMAND inside a lab node's network namespace, or a pod's (found through the API;
POD alone means namespace default). Exits with COMMAND's exit code.

(\`weft lab api-relay --listen ADDR:PORT --socket PATH\` is the lab's own relay from its
namespace to the API server's socket; \`weft up\` starts it.)

Flags:
${dataDirFlag}
  -h, --help                   show this help
`

export async function runUp(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '1' },
      'data-dir': { type: 'string', default: DEFAULT_LAB_DIR },
      'no-demo': { type: 'boolean', default: false },
      'no-agents': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '120' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(upUsage)
    return
  }
  const nodes = Number(values.nodes)
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) throw new Error(`--nodes "${values.nodes}" must be a whole number from 1 to ${MAX_NODES}`)
  const timeout = Number(values.timeout)
  if (!Number.isFinite(timeout) || timeout <= 0) throw new Error(`--timeout "${values.timeout}" must be a positive number of seconds`)
  const dataDir = resolve(values['data-dir']!)
  const agents = !values['no-agents']

  const abort = new AbortController()
  const onSignal = () => {
    if (abort.signal.aborted) process.stderr.write('weft up: still removing the lab; wait a moment\n')
    else {
      process.stderr.write('weft up: interrupted; removing the lab\n')
      abort.abort()
    }
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const { state, plan, pods, services, dnsIP, ingress } = await labUp({
      dataDir,
      nodes,
      agents,
      demo: agents && !values['no-demo'],
      timeoutMs: timeout * 1000,
      signal: abort.signal,
      log: (line) => process.stderr.write(`weft up: ${line}\n`),
    })
    const dirFlag = values['data-dir'] === DEFAULT_LAB_DIR ? '' : ` --data-dir ${dataDir}`
    const lines = [`Lab ${state.id} is up: ${plan.nodes.map((n) => `${n.name} (${n.ip})`).join(', ')}; API server at ${state.url}.`]
    if (!agents) lines.push('No agents were started (--no-agents): the nodes are namespaces only.')
    else lines.push('The nodes joined with a bootstrap token and hold their own client certificates (kubectl get csr).')
    lines.push(
      '',
      'Next:',
      `  export KUBECONFIG=${plan.kubeconfig}    # HTTPS, checked against the cluster CA; kubectl authenticates with`,
      '                                          # the admin client certificate (CN=kubernetes-admin, O=system:masters)',
      '  kubectl auth whoami',
      '  kubectl get pods -o wide',
    )
    const pod = pods[0]
    if (pod) {
      lines.push(`  weft lab exec${dirFlag} ${plan.nodes[0]!.name} -- curl -s http://${pod.status!.podIP}:8080/`)
      lines.push(`  weft lab exec${dirFlag} ${pod.metadata!.name} -- hostname`)
    } else {
      lines.push(`  weft lab exec${dirFlag} ${plan.nodes[0]!.name} -- ip addr`)
    }
    for (const svc of services) {
      const port = svc.spec!.ports![0]!
      lines.push(`  weft lab exec${dirFlag} ${pod?.metadata?.name ?? plan.nodes[0]!.name} -- curl -s http://${svc.spec!.clusterIP}:${port.port}/    # Service ${svc.metadata!.name} by its ClusterIP`)
      const other = plan.nodes[plan.nodes.length - 1]!
      if (port.nodePort) lines.push(`  weft lab exec${dirFlag} ${other.name} -- curl -s http://${plan.nodes[0]!.ip}:${port.nodePort}/    # its NodePort on ${plan.nodes[0]!.name}`)
      if (pod) lines.push(`  weft lab exec${dirFlag} ${pod.metadata!.name} -- curl -s http://${svc.metadata!.name}/    # by name, through the cluster DNS`)
    }
    if (dnsIP && services[0]) lines.push(`  weft lab exec${dirFlag} ${plan.nodes[0]!.name} -- dig @${dnsIP} ${services[0].metadata!.name}.${services[0].metadata!.namespace ?? 'default'}.svc.cluster.local    # the cluster DNS (kube-dns)`)
    if (ingress) {
      lines.push(`  curl -k --resolve ${DEMO_INGRESS_HOST}:${ingress.port}:127.0.0.1 https://${DEMO_INGRESS_HOST}:${ingress.port}/    # the echo app through the Ingress (TLS), from this shell`)
      lines.push('  kubectl get ingress echo    # ADDRESS: the nodes the Ingress controller serves it on')
    }
    lines.push(`  weft down${dirFlag}`)
    process.stdout.write(lines.join('\n') + '\n')
  } catch (err) {
    if (err instanceof LabAbortedError) {
      process.stderr.write('weft up: interrupted; the lab was removed\n')
      process.exit(130)
    }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

export async function runDown(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string', default: DEFAULT_LAB_DIR },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(downUsage)
    return
  }
  const dataDir = resolve(values['data-dir']!)
  if (process.getuid?.() !== 0) throw new Error('weft down needs root: it removes network namespaces (run it with sudo)')
  const r = await labDown(dataDir)
  if (r.stopped + r.namespaces + r.mounts === 0 && r.dir !== 'removed') {
    process.stdout.write(`No lab in ${dataDir}: nothing to remove.\n`)
    return
  }
  process.stdout.write(`Lab removed: ${r.stopped} process(es) stopped, ${r.namespaces} network namespace(s) and ${r.mounts} mount(s) removed.\n`)
  if (r.dir === 'kept') process.stdout.write(`${dataDir} holds files weft did not put there; it was left in place.\n`)
}

export async function runLab(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(labUsage)
    return
  }
  if (sub === 'api-relay') {
    const { values } = parseArgs({ args: rest, options: { listen: { type: 'string' }, socket: { type: 'string' } }, strict: true })
    if (!values.listen || !values.socket) throw new Error('weft lab api-relay needs --listen ADDR:PORT and --socket PATH')
    const server = await startApiRelay(values.listen, values.socket)
    process.stdout.write(`${API_RELAY_READY} on ${values.listen}\n`)
    const stop = () => server.close(() => process.exit(0))
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    return
  }
  if (sub !== 'exec') throw new Error(`unknown subcommand "${sub}": the lab command has exec\n\n${labUsage}`)
  const dash = rest.indexOf('--')
  const own = dash < 0 ? rest : rest.slice(0, dash)
  const { values, positionals } = parseArgs({
    args: own,
    options: {
      'data-dir': { type: 'string', default: DEFAULT_LAB_DIR },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  })
  if (values.help) {
    process.stdout.write(labUsage)
    return
  }
  const [target, ...more] = positionals
  if (!target) throw new Error(`name a node or a pod\n\n${labUsage}`)
  const command = [...more, ...(dash < 0 ? [] : rest.slice(dash + 1))]
  process.exit(await labExec(values['data-dir']!, target, command))
}
