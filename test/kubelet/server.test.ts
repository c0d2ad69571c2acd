import t from 'tap'
import { LogRequestError, parseLogRequest } from '../../src/kubelet/server.ts'

const now = new Date('2024-05-01T10:00:00Z')
const parse = (query: string, path = '/containerLogs/default/web/app') => parseLogRequest(path, new URLSearchParams(query), now)

t.test('log requests: paths and parameters', async (t) => {
  t.same(parse('tailLines=10&limitBytes=5&follow=true&timestamps=1&sinceSeconds=60'), {
    namespace: 'default',
    pod: 'web',
    container: 'app',
    follow: true,
    previous: false,
    timestamps: true,
    tailLines: 10,
    limitBytes: 5,
    since: new Date('2024-05-01T09:59:00Z'),
  })
  t.equal(parse('', '/containerLogs/default/web'), undefined, 'not a log path')
  t.equal(parse('sinceTime=2024-05-01T11:00:00%2B02:00')?.since?.toISOString(), '2024-05-01T09:00:00.000Z')
  t.equal(parse('sinceSeconds=999999999999999')?.since?.getTime(), 0, 'further back than the epoch reads from the start')
  t.equal(parse('', '/containerLogs/kube%2Dsystem/p/c')?.namespace, 'kube-system')
  t.same([parse('follow=T')?.follow, parse('follow=False')?.follow, parse('previous=TRUE')?.previous, parse('follow=')?.follow], [true, false, true, false], "Go's boolean spellings")
})

t.test('log requests: bad parameters are 400s that say what is wrong', async (t) => {
  const bad: Array<[string, RegExp, string?]> = [
    ['tailLines=-1', /tailLines "-1" must be a non-negative integer/],
    ['tailLines=1e3', /tailLines "1e3" must be a non-negative integer/],
    ['limitBytes=99999999999999999999', /limitBytes .* below 10\^15/],
    ['tailLines=1&tailLines=2', /tailLines is given 2 times/],
    ['sinceSeconds=1&sinceTime=2024-05-01T10:00:00Z', /at most one of sinceSeconds and sinceTime/],
    ['sinceTime=yesterday', /sinceTime "yesterday" is not an RFC 3339 time/],
    ['sinceTime=2024-13-45T99:99:99Z', /not an RFC 3339 time/],
    ['sinceTime=275760-09-13T00:00:00Z', /not an RFC 3339 time/],
    ['follow=yes', /follow "yes" must be true or false/],
    ['', /not valid percent-encoding/, '/containerLogs/%E0%A4%A/web/app'],
    ['', /is not a valid name/, '/containerLogs/a%2Fb/web/app'],
    ['', /is not a valid name/, '/containerLogs/default/web/a%0Ab'],
  ]
  for (const [query, message, path] of bad) {
    let caught: unknown
    try {
      parse(query, path)
    } catch (err) {
      caught = err
    }
    t.ok(caught instanceof LogRequestError && caught.status === 400 && message.test(caught.message), `${path ?? ''}?${query}: ${String(caught)}`)
  }
})
