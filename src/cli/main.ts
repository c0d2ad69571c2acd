// The `weft` command.
import { runCerts, certsUsage } from './certs.ts'
import { runToken, tokenUsage } from './token.ts'
import { agentUsage, runAgent } from './agent.ts'
import { downUsage, labUsage, runDown, runLab, runUp, upUsage } from './lab.ts'
import { dnsUsage, runDns } from './dns.ts'
import { ingressUsage, runIngress } from './ingress.ts'
import { controllerManagerUsage, runControllerManager, runScheduler, schedulerUsage } from './control-plane.ts'
import { proxyUsage, runProxy } from './proxy.ts'
import { runServer, serverUsage } from './server.ts'
import { loadUsage } from '../../load/options.ts'

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
  token create|list|delete   bootstrap tokens for joining nodes (as kubeadm token)
  load                 load-test a URL, Service, Ingress or pod: open or closed loop, from this host or
                       from load pods, with scenario actions; HDR latencies, result.json, report.html
  load compare A B     two load results side by side

Run 'weft <command> --help' for a command's flags.
`

const commands: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
  server: { run: runServer, usage: serverUsage },
  scheduler: { run: runScheduler, usage: schedulerUsage },
  'controller-manager': { run: runControllerManager, usage: controllerManagerUsage },
  agent: { run: runAgent, usage: agentUsage },
  proxy: { run: runProxy, usage: proxyUsage },
  dns: { run: runDns, usage: dnsUsage },
  ingress: { run: runIngress, usage: ingressUsage },
  up: { run: runUp, usage: upUsage },
  down: { run: runDown, usage: downUsage },
  lab: { run: runLab, usage: labUsage },
  certs: { run: (argv) => runCerts(argv), usage: certsUsage },
  token: { run: (argv) => runToken(argv), usage: tokenUsage },
  // Loaded on use: the load tool's modules are only for its own runs.
  load: { run: async (argv) => (await import('../../load/cli.ts')).runLoadCommand(argv), usage: loadUsage },
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage)
    return
  }
  const command = commands[name]
  if (!command) {
    process.stderr.write(`weft: unknown command "${name}"\n\n${usage}`)
    process.exit(2)
  }
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
