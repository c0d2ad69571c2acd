// The service proxy's behaviour suite against the nftables data plane.
import t from 'tap'
import { serviceProxySuite } from './service-proxy-suite.ts'

await serviceProxySuite(t, 'nftables')
