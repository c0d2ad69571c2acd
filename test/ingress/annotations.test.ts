import t from 'tap'
import { defaultRouteOptions, parseBodySize, parseTimeout, routeOptions } from '../../ingress/annotations.ts'

t.test('defaults', async (t) => {
  t.same(defaultRouteOptions, {
    sslRedirect: undefined,
    maxBodyBytes: 1048576,
    connectTimeoutMs: 5000,
    readTimeoutMs: 60000,
    backendProtocol: 'HTTP',
    loadBalance: 'round_robin',
  })
  t.same(routeOptions(undefined), { options: defaultRouteOptions, errors: [] })
  t.same(routeOptions({ 'other.io/x': 'y' }), { options: defaultRouteOptions, errors: [] })
  const { options } = routeOptions({})
  options.sslRedirect = false
  t.equal(defaultRouteOptions.sslRedirect, undefined, 'options are a copy')
  t.equal(routeOptions({ 'weft.dev/ssl-redirect': 'true' }).options.sslRedirect, true)
})

t.test('valid values', async (t) => {
  const { options, errors } = routeOptions({
    'weft.dev/ssl-redirect': 'false',
    'weft.dev/proxy-body-size': '8k',
    'weft.dev/proxy-connect-timeout': '500ms',
    'weft.dev/proxy-read-timeout': '120',
    'weft.dev/backend-protocol': 'grpcs',
    'weft.dev/load-balance': 'least_request',
  })
  t.same(errors, [])
  t.same(options, { sslRedirect: false, maxBodyBytes: 8192, connectTimeoutMs: 500, readTimeoutMs: 120000, backendProtocol: 'GRPCS', loadBalance: 'least_request' })
})

t.test('sizes', async (t) => {
  const cases: [string, number | undefined][] = [
    ['0', 0], ['512', 512], ['8k', 8192], ['8K', 8192], ['1m', 1048576], ['2M', 2097152], ['1g', 1073741824],
    ['', undefined], ['1.5m', undefined], ['-1', undefined], ['1mb', undefined], ['1Mi', undefined], ['m', undefined], ['99999999999999999g', undefined],
  ]
  for (const [input, want] of cases) t.equal(parseBodySize(input), want, JSON.stringify(input))
})

t.test('timeouts', async (t) => {
  const cases: [string, number | undefined][] = [
    ['5', 5000], ['5s', 5000], ['500ms', 500], ['1.5s', 1500], ['2m', 120000], ['1h', 3600000], [' 30 ', 30000],
    ['0', undefined], ['0s', undefined], ['-5', undefined], ['5x', undefined], ['s', undefined], ['1m30s', undefined], ['', undefined],
  ]
  for (const [input, want] of cases) t.equal(parseTimeout(input), want, JSON.stringify(input))
})

t.test('invalid values: an error naming annotation and value, default kept', async (t) => {
  const cases: [string, string, keyof typeof defaultRouteOptions][] = [
    ['weft.dev/ssl-redirect', 'yes', 'sslRedirect'],
    ['weft.dev/proxy-body-size', 'huge', 'maxBodyBytes'],
    ['weft.dev/proxy-connect-timeout', 'soon', 'connectTimeoutMs'],
    ['weft.dev/proxy-read-timeout', '0', 'readTimeoutMs'],
    ['weft.dev/backend-protocol', 'FTP', 'backendProtocol'],
    ['weft.dev/load-balance', 'ewma', 'loadBalance'],
  ]
  for (const [name, value, field] of cases) {
    const { options, errors } = routeOptions({ [name]: value })
    t.equal(errors.length, 1, name)
    t.match(errors[0], name)
    t.match(errors[0], JSON.stringify(value))
    t.match(errors[0], 'using the default')
    t.equal(options[field], defaultRouteOptions[field], `${name} keeps the default`)
  }
  const { options, errors } = routeOptions({ 'weft.dev/ssl-redirect': 'maybe', 'weft.dev/load-balance': 'least_request' })
  t.equal(errors.length, 1)
  t.equal(options.loadBalance, 'least_request', 'the valid annotation still applies')
})

t.test('unknown weft.dev annotations are reported', async (t) => {
  const { options, errors } = routeOptions({ 'weft.dev/ssl-redirct': 'false' })
  t.same(options, defaultRouteOptions)
  t.equal(errors.length, 1)
  t.match(errors[0], /weft\.dev\/ssl-redirct: unknown/)
})
