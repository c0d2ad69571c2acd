// The lab's own API client: the admin kubeconfig's credentials, over the server's unix socket.
import { RestClient } from '../client/index.ts'
import { loadKubeconfig } from '../client/kubeconfig.ts'

export function labClient(socket: string, kubeconfig: string): RestClient {
  return new RestClient({ socketPath: socket, credentials: loadKubeconfig(kubeconfig).credentials }, { userAgent: 'weft-lab', timeoutMs: 10_000 })
}
