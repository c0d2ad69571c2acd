// The bootstrap add-on pods (DNS, Ingress) reach the API server through its unix socket when
// it has one: the socket is mounted as a hostPath at its own path (agents allow exactly their
// API socket; the pods' service-account tokens still authenticate them).

/** The pod spec parts that give a bootstrap pod the API server's unix socket at the same path. */
export function apiSocketMount(apiSocket: string | undefined): { volumes: object[]; volumeMounts: object[] } {
  if (!apiSocket) return { volumes: [], volumeMounts: [] }
  return { volumes: [{ name: 'api-socket', hostPath: { path: apiSocket, type: 'Socket' } }], volumeMounts: [{ name: 'api-socket', mountPath: apiSocket }] }
}
