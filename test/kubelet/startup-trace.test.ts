import t from 'tap'
import { StartupTrace } from '../../src/kubelet/startup-trace.ts'

t.test('a trace is finished once, at Ready; steps count the first time only', async (t) => {
  const trace = new StartupTrace()
  trace.mark('sandbox')
  t.equal(trace.finish(), undefined, 'nothing before Ready')
  await new Promise((r) => setTimeout(r, 20))
  trace.mark('sandbox')
  trace.mark('ready')
  const record = trace.finish()!
  t.same(Object.keys(record.steps), ['sandbox', 'ready'])
  t.ok(record.steps.sandbox! < 20 && record.steps.ready! >= 19, 'a step marked again keeps its first time')
  t.equal(trace.finish(), undefined, 'finished once')
  trace.mark('containers')
  t.equal(trace.finish(), undefined)
})
