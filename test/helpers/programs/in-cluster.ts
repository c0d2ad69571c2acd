// Runs inside a pod: @kubernetes/client-node's in-cluster configuration (the kubernetes
// Service from the environment, the projected token and CA), then lists the namespace's
// pods (allowed) and its secrets (forbidden). Prints what happened; exits 0 only if both
// went as expected.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node'

const kc = new KubeConfig()
kc.loadFromCluster()
const core = kc.makeApiClient(CoreV1Api)
const namespace = process.env.POD_NAMESPACE ?? 'default'
const result: Record<string, unknown> = { server: kc.getCurrentCluster()?.server }
try {
  result.pods = (await core.listNamespacedPod({ namespace })).items.map((p) => p.metadata?.name)
} catch (err) {
  result.pods = `error ${(err as { code?: number }).code ?? (err as Error).message}`
}
try {
  await core.listNamespacedSecret({ namespace })
  result.secrets = 'allowed'
} catch (err) {
  result.secrets = (err as { code?: number }).code ?? (err as Error).message
}
console.log(JSON.stringify(result))
process.exit(Array.isArray(result.pods) && result.secrets === 403 ? 0 : 3)
