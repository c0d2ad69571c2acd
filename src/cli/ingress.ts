// `weft ingress`: the Ingress controller (also what the built-in image `weft/ingress` runs).
import { defaultIngressConfig, startIngress, type IngressConfig } from '../ingress/run.ts'
import { runComponent } from './serve.ts'

const d = defaultIngressConfig

export const ingressUsage = `Usage: weft ingress [flags]

Runs the Ingress controller: serves the Ingresses of its IngressClass over HTTP and HTTPS
(certificates from kubernetes.io/tls Secrets by SNI, h2 and http/1.1), routing by host and
path straight to the ready endpoints of the backend Services.

Flags:
  --server URL              the API server (default: http://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
                            inside a pod, else http://127.0.0.1:6443)
  --socket PATH             reach the API server through this unix socket instead
  --http-listen A           plain HTTP on HOST:PORT (default ${d.httpListen}; '' for none)
  --https-listen A          HTTPS on HOST:PORT (default ${d.httpsListen}; '' for none)
  --https-redirect-port N   the port HTTP→HTTPS redirects name (default: the HTTPS port)
  --ingress-class NAME      the IngressClass name served (default ${d.classes.className})
  --controller NAME         the IngressClass spec.controller served (default ${d.classes.controller})
  --status-listen A         /healthz, /readyz and /metrics on HOST:PORT (default ${d.statusListen}; '' for none)
  -h, --help                show this help
`

function port(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${flag} "${value}" must be a port number (1-65535)`)
  return n
}

export function ingressConfigFrom(values: Record<string, string | boolean | undefined>): IngressConfig {
  const s = (k: string, fallback: string) => (values[k] === undefined ? fallback : String(values[k]))
  const className = s('ingress-class', d.classes.className)
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(className)) throw new Error(`--ingress-class "${className}" is not a valid IngressClass name`)
  return {
    httpListen: s('http-listen', d.httpListen),
    httpsListen: s('https-listen', d.httpsListen),
    httpsRedirectPort: port('--https-redirect-port', values['https-redirect-port'] as string | undefined),
    classes: { className, controller: s('controller', d.classes.controller) },
    statusListen: s('status-listen', d.statusListen),
  }
}

export function runIngress(argv: string[]): Promise<void> {
  return runComponent(argv, { flags: ['http-listen', 'https-listen', 'https-redirect-port', 'ingress-class', 'controller', 'status-listen'], usage: ingressUsage, configFrom: ingressConfigFrom, name: 'ingress', start: startIngress })
}
