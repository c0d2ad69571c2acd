import t from 'tap'
import type { V1Container, V1Pod } from '@kubernetes/client-node'
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, processCredentials, setprivArgs, type ProcessCredentials } from '../../src/kubelet/security-context.ts'

const pod = (podSc: NonNullable<V1Pod['spec']>['securityContext'] = {}): V1Pod => ({ metadata: { name: 'web', namespace: 'team', uid: 'u1' }, spec: { securityContext: podSc, containers: [] } })
const c = (sc: V1Container['securityContext'] = {}): V1Container => ({ name: 'app', securityContext: sc })
const ok = (v: ProcessCredentials | Error): ProcessCredentials => {
  if (v instanceof Error) throw v
  return v
}

t.test('a container that says nothing: root with containerd\'s default capabilities, not all of root\'s', async (t) => {
  const cred = ok(processCredentials(pod(), c()))
  t.same([cred.uid, cred.gid, cred.groups, cred.privileged, cred.noNewPrivs], [0, 0, [], false, false])
  t.same([...cred.capabilities].sort(), [...DEFAULT_CAPABILITIES].sort())
  t.notOk(cred.capabilities.includes('SYS_ADMIN'))
  t.same(setprivArgs(cred), ['--reuid=0', '--regid=0', '--clear-groups', `--bounding-set=-all,${ALL_CAPABILITIES.filter((x) => (DEFAULT_CAPABILITIES as readonly string[]).includes(x)).map((x) => `+${x.toLowerCase()}`).join(',')}`, '--inh-caps=-all'])
})

t.test('users and groups: the container\'s settings over the pod\'s; the group follows the user unless given', async (t) => {
  t.same(setprivArgs(ok(processCredentials(pod({ runAsUser: 1000, supplementalGroups: [5, 6, 5] }), c()))).slice(0, 3), ['--reuid=1000', '--regid=1000', '--groups=5,6'])
  t.same(setprivArgs(ok(processCredentials(pod({ runAsUser: 1000, supplementalGroups: [5], fsGroup: 2000 }), c()))).slice(0, 3), ['--reuid=1000', '--regid=1000', '--groups=5,2000'], 'the fsGroup is a supplemental group')
  t.match(processCredentials(pod({ fsGroup: -1 }), c()), { message: /fsGroup -1 must be a whole number/ })
  t.same(setprivArgs(ok(processCredentials(pod({ runAsUser: 1000, runAsGroup: 3000 }), c({ runAsUser: 2000 })))).slice(0, 2), ['--reuid=2000', '--regid=3000'])
  t.match(processCredentials(pod({ runAsUser: -1 }), c()), /runAsUser -1 must be a whole number/)
})

t.test('runAsNonRoot refuses root with the kubelet\'s words', async (t) => {
  t.match(processCredentials(pod({ runAsNonRoot: true }), c()), { message: 'container has runAsNonRoot and image will run as root (pod: "web_team(u1)", container: app)' })
  t.match(processCredentials(pod(), c({ runAsNonRoot: true, runAsUser: 0 })), { message: 'container\'s runAsUser breaks non-root policy (pod: "web_team(u1)", container: app)' })
  t.equal(ok(processCredentials(pod({ runAsNonRoot: true }), c({ runAsUser: 65534 }))).uid, 65534)
})

t.test('capabilities: drop, add, ALL; no_new_privs; privileged keeps everything', async (t) => {
  const dropped = ok(processCredentials(pod(), c({ capabilities: { drop: ['NET_RAW', 'cap_chown'] } })))
  t.notOk(dropped.capabilities.includes('NET_RAW'))
  t.notOk(dropped.capabilities.includes('CHOWN'))
  t.same(ok(processCredentials(pod(), c({ capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } }))).capabilities, ['NET_BIND_SERVICE'])
  t.same(ok(processCredentials(pod(), c({ capabilities: { add: ['ALL'] } }))).capabilities.length, ALL_CAPABILITIES.length)
  t.match(processCredentials(pod(), c({ capabilities: { add: ['SUPERPOWER'] } })), /unknown capability "SUPERPOWER"/)
  t.ok(setprivArgs(ok(processCredentials(pod(), c({ allowPrivilegeEscalation: false })))).includes('--no-new-privs'))
  const privileged = ok(processCredentials(pod(), c({ privileged: true })))
  t.equal(privileged.privileged, true)
  t.same(setprivArgs(privileged), [], 'privileged: the command runs as the supervisor does')
})
