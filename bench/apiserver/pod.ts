// A realistic Pod as a Deployment's ReplicaSet would create it: labels, owner
// reference, one app container with env, resources, probes and mounts. About 1.5 KB
// of JSON.
import type { V1Pod } from '@kubernetes/client-node'

export const SENT_AT_ANNOTATION = 'bench.weft.dev/sent-at'

export function benchPod(namespace: string, name: string, sentAt?: number): V1Pod {
  const annotations: Record<string, string> = { 'kubectl.kubernetes.io/default-container': 'app' }
  if (sentAt !== undefined) annotations[SENT_AT_ANNOTATION] = sentAt.toFixed(3)
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: { app: 'bench-web', 'pod-template-hash': '7d4b9c6f58', tier: 'frontend' },
      annotations,
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'bench-web-7d4b9c6f58', uid: '4f0c6d1e-9a7b-4c52-8e1d-2b3a4c5d6e7f', controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/bench/web:1.24.3',
          imagePullPolicy: 'IfNotPresent',
          args: ['--listen=:8080', '--metrics=:9090'],
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
          env: [
            { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
            { name: 'UPSTREAM_URL', value: 'http://bench-api.bench.svc.cluster.local:8080' },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/readyz', port: 8080, scheme: 'HTTP' }, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/web', readOnly: true },
            { name: 'cache', mountPath: '/var/cache/web' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'bench-web-config', defaultMode: 420 } },
        { name: 'cache', emptyDir: { sizeLimit: '1Gi' } },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
  }
}
