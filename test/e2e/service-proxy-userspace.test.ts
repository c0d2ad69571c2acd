// The service proxy's behaviour suite against the userspace data plane.
import t from 'tap'
import { serviceProxySuite } from './service-proxy-suite.ts'

await serviceProxySuite(t, 'userspace')
