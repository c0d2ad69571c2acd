// The service proxy's behaviour suite against the nftables data plane.
import t from 'tap'
import { serviceProxySuite } from './service-proxy-suite.ts'

// A setup failure is reported as a failed assertion, so the teardowns still remove every namespace and pod.
await serviceProxySuite(t, 'nftables').catch((err: unknown) => t.fail(err instanceof Error ? err.message : String(err)))
