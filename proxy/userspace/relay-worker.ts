// A relay worker thread (relay-workers.ts): a UserspaceProxier of its own, TCP only, whose
// listeners share the main thread's ports (SO_REUSEPORT), so the kernel spreads new
// connections over the threads. It counts its sockets into the main thread's limits and
// reports refusals and idle closes back to the main thread's hooks (the metrics).
import { parentPort, workerData } from 'node:worker_threads'
import type { ProxyState } from '../model.ts'
import { UserspaceLimits } from './limits.ts'
import { ListenError, UserspaceProxier } from './proxier.ts'
import type { WorkerData, WorkerReply, WorkerRequest } from './relay-workers.ts'

const data = workerData as WorkerData
const port = parentPort!
const post = (m: WorkerReply): void => port.postMessage(m)
const limits = new UserspaceLimits({ shared: data.shared, socketLimit: data.socketLimit, udpSessionLimit: data.udpSessionLimit })
limits.onRefuse = (protocol, reason) => post({ type: 'refused', protocol, reason })
limits.onSourceRangeRefused = (protocol) => post({ type: 'sourceRefused', protocol })
limits.onTcpIdleClosed = () => post({ type: 'idleClosed' })
const proxier = new UserspaceProxier({ family: data.family, manageAddresses: false, reusePort: true, limits, connectTimeoutMs: data.connectTimeoutMs, tcpIdleTimeoutMs: data.tcpIdleTimeoutMs })

port.on('message', (m: WorkerRequest) => {
  if (m.type === 'sync') {
    proxier.sync(m.state as ProxyState, m.changed).then(
      () => post({ type: 'synced', seq: m.seq, failures: [] }),
      (err: Error) =>
        post({
          type: 'synced',
          seq: m.seq,
          failures: err instanceof ListenError ? err.failures.map((f) => ({ id: f.id, listen: f.listen, message: f.error.message, code: (f.error as NodeJS.ErrnoException).code })) : [{ id: '', listen: '', message: err.message }],
        }),
    )
  } else {
    void proxier.close().finally(() => post({ type: 'closed' }))
  }
})
