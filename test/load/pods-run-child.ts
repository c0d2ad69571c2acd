// `weft load --from-pods` as a process of its own, for pods-e2e.test.ts's Ctrl-C case:
//   node pods-run-child.ts KUBECONFIG '{"namespace":…,"count":…,"target":…,"plan":…}'
// Prints each status line; its SIGINT handler (runFromPods') deletes the pods and exits 130.
import { kubeAccess } from '../../load/kube.ts'
import { runFromPods } from '../../load/pods.ts'

const [kubeconfig, specText] = process.argv.slice(2)
const spec = JSON.parse(specText!)
const access = await kubeAccess({ kubeconfig })
const result = await runFromPods({ client: access.client, address: access.address, namespace: spec.namespace, count: spec.count, target: spec.target, plan: spec.plan, onStatus: (line) => process.stdout.write(`${line}\n`) })
process.stdout.write(`finished: ${JSON.stringify(result.generators)}\n`)
await access.client.close()
