// The `weft` command. Each subcommand's module is loaded when it runs: a node agent does not
// carry the API server, the Ingress controller or the lab in its memory, nor they the agent.

const usage = `Usage: weft <command> [flags]

Commands:
  server               run the API server (embedded SQLite store, or etcd) with the scheduler and controllers
  scheduler            run the scheduler alone, against an API server
  controller-manager   run the controllers alone, against an API server
  agent                run the node agent (kubelet and service proxy) on this host
  proxy                run the service proxy alone on this host
  dns                  run the cluster DNS server
  ingress              run the Ingress controller
  up                   start a lab cluster on this host: nodes as network namespaces, and a demo app
  down                 remove a lab cluster and everything it made
  lab exec             run a command inside a lab node's or pod's network namespace
  certs check|renew    the cluster certificates' expiry, and renewal (as kubeadm certs)
  mesh certs|crd       the mesh identities this node's proxy holds, and their expiry; the MeshAuthorization CRD
  token create|list|delete   bootstrap tokens for joining nodes (as kubeadm token)
  load                 load-test a URL, Service, Ingress or pod: open or closed loop, from this host or
                       from load pods, with scenario actions; HDR latencies, result.json, report.html
  load compare A B     two load results side by side

Run 'weft <command> --help' for a command's flags.
`

interface Command {
  run(argv: string[]): Promise<void>
  usage: string
}

/** The subcommand, loaded. */
const commands: Record<string, () => Promise<Command>> = {
  server: () => import('./server.ts').then((m) => ({ run: m.runServer, usage: m.serverUsage })),
  scheduler: () => import('./control-plane.ts').then((m) => ({ run: m.runScheduler, usage: m.schedulerUsage })),
  'controller-manager': () => import('./control-plane.ts').then((m) => ({ run: m.runControllerManager, usage: m.controllerManagerUsage })),
  agent: () => import('./agent.ts').then((m) => ({ run: m.runAgent, usage: m.agentUsage })),
  proxy: () => import('./proxy.ts').then((m) => ({ run: m.runProxy, usage: m.proxyUsage })),
  dns: () => import('./dns.ts').then((m) => ({ run: m.runDns, usage: m.dnsUsage })),
  ingress: () => import('./ingress.ts').then((m) => ({ run: m.runIngress, usage: m.ingressUsage })),
  up: () => import('./lab.ts').then((m) => ({ run: m.runUp, usage: m.upUsage })),
  down: () => import('./lab.ts').then((m) => ({ run: m.runDown, usage: m.downUsage })),
  lab: () => import('./lab.ts').then((m) => ({ run: m.runLab, usage: m.labUsage })),
  certs: () => import('./certs.ts').then((m) => ({ run: (argv: string[]) => m.runCerts(argv), usage: m.certsUsage })),
  mesh: () => import('../../mesh/cli.ts').then((m) => ({ run: (argv: string[]) => m.runMesh(argv), usage: m.meshUsage })),
  token: () => import('./token.ts').then((m) => ({ run: (argv: string[]) => m.runToken(argv), usage: m.tokenUsage })),
  load: () => import('../../load/cli.ts').then((m) => ({ run: m.runLoadCommand, usage: m.loadUsage })),
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage)
    return
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (!load) {
    process.stderr.write(`weft: unknown command "${name}"\n\n${usage}`)
    process.exit(2)
  }
  const command = await load()
  try {
    await command.run(rest)
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    process.stderr.write(`weft ${name}: ${message}\n`)
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) process.stderr.write(`\n${command.usage}`)
    process.exit(1)
  }
}

await main(process.argv.slice(2))
