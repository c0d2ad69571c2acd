// Reading mount points from /proc/self/mountinfo text (pure).
import t from 'tap'
import { mountEntries, mountinfoTargets, targetsUnder, unescapeMountPath } from '../../src/netlink/mounts.ts'

t.test('mounts under the data dir', async (t) => {
  t.equal(unescapeMountPath('/a\\040b/c\\134d'), '/a b/c\\d')
  t.same(targetsUnder(['/', '/run/netns/x', '/srv/lab/nodes/node-1/pods/u1/uts', '/srv/lab2/x', '/srv/lab', '/srv/lab/a b'], ['/srv/lab/']), ['/srv/lab/nodes/node-1/pods/u1/uts', '/srv/lab/a b', '/srv/lab'], 'deepest first; /srv/lab2 is not under /srv/lab')
  // /proc/self/mountinfo: the mount point is field 5, with octal escapes.
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '96 22 0:4 net:[4026532] /run/netns/x rw shared:5 - nsfs nsfs rw',
    '97 22 0:52 / /srv/lab/nodes/node-1/pods/u1/volumes/secret rw - tmpfs tmpfs rw,size=1024k,mode=700',
    '98 22 0:53 / /real/lab/a\\040b rw - tmpfs tmpfs rw',
    '99 22 0:54 / /srv/lab2 rw - tmpfs tmpfs rw',
    '',
  ].join('\n')
  t.same(mountinfoTargets(info), ['/', '/run/netns/x', '/srv/lab/nodes/node-1/pods/u1/volumes/secret', '/real/lab/a b', '/srv/lab2'])
  t.same(targetsUnder(mountinfoTargets(info), ['/srv/lab', '/real/lab']), ['/srv/lab/nodes/node-1/pods/u1/volumes/secret', '/real/lab/a b'], 'under either spelling of the dir')
})

t.test('mount entries: target, type, mount and super options', async (t) => {
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    // Two optional fields, then a tmpfs mounted twice at one target (the later is on top).
    '97 22 0:52 / /srv/a\\040b rw,nosuid,nodev,noexec shared:7 master:2 - tmpfs weft-volume rw,size=1024k,mode=700',
    '98 97 0:53 / /srv/a\\040b rw,nosuid,nodev - tmpfs weft-volume rw,size=2048k,mode=700',
    '',
  ].join('\n')
  t.same(mountEntries(info), [
    { target: '/', fstype: 'ext4', options: ['rw', 'relatime'], superOptions: ['rw'] },
    { target: '/srv/a b', fstype: 'tmpfs', options: ['rw', 'nosuid', 'nodev', 'noexec'], superOptions: ['rw', 'size=1024k', 'mode=700'] },
    { target: '/srv/a b', fstype: 'tmpfs', options: ['rw', 'nosuid', 'nodev'], superOptions: ['rw', 'size=2048k', 'mode=700'] },
  ])
  t.ok(mountEntries().some((e) => e.target === '/'), 'reads /proc/self/mountinfo by default')
})
