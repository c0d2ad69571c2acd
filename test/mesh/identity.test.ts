import t from 'tap'
import { IdentityError, parseSpiffeId, spiffeId, verifySvid } from '../../mesh/identity.ts'
import { createCA, issueCertificate } from '../../src/pki/certificates.ts'
import { generateKeyPair, publicKeyPemOf, readPrivateKey } from '../../src/pki/keys.ts'

const td = 'cluster.local'

t.test('SPIFFE IDs: built and read back; everything else refused with the reason', async (t) => {
  const id = { trustDomain: td, namespace: 'shop', serviceAccount: 'cart.v2' }
  t.equal(spiffeId(id), 'spiffe://cluster.local/ns/shop/sa/cart.v2')
  t.same(parseSpiffeId('spiffe://cluster.local/ns/shop/sa/cart.v2'), id)
  t.same(parseSpiffeId('spiffe://my_domain-1.example/ns/a/sa/b'), { trustDomain: 'my_domain-1.example', namespace: 'a', serviceAccount: 'b' })
  const refused: [string, RegExp][] = [
    ['SPIFFE://cluster.local/ns/a/sa/b', /scheme must be spiffe/],
    ['https://cluster.local/ns/a/sa/b', /scheme must be spiffe/],
    ['spiffe://Cluster.local/ns/a/sa/b', /trust domain "Cluster.local" has characters/],
    ['spiffe://cluster.local:8443/ns/a/sa/b', /a port is not allowed/],
    ['spiffe://user@cluster.local/ns/a/sa/b', /user info is not allowed/],
    ['spiffe:///ns/a/sa/b', /trust domain is empty/],
    ['spiffe://cluster.local', /names no workload/],
    ['spiffe://cluster.local/', /empty path segment/],
    ['spiffe://cluster.local/ns/a/sa/b/', /empty path segment/],
    ['spiffe://cluster.local/ns//sa/b', /empty path segment/],
    ['spiffe://cluster.local/ns/../sa/b', /segment \.\. is not allowed/],
    ['spiffe://cluster.local/ns/./sa/b', /segment \. is not allowed/],
    ['spiffe://cluster.local/ns/a/sa/b?x=1', /query or fragment/],
    ['spiffe://cluster.local/ns/a/sa/b#f', /query or fragment/],
    ['spiffe://cluster.local/ns/a%2Fb/sa/c', /percent-encoding/],
    ['spiffe://cluster.local/ns/a b/sa/c', /characters other than letters/],
    ['spiffe://cluster.local/ns/a/sa/b/extra', /path is \/ns\/<namespace>\/sa\/<service account>/],
    ['spiffe://cluster.local/sa/b/ns/a', /path is \/ns/],
    ['spiffe://cluster.local/ns/Shop/sa/b', /"Shop" is not a namespace name/],
    ['spiffe://cluster.local/ns/a/sa/-b', /"-b" is not a service account name/],
    [`spiffe://cluster.local/ns/a/sa/${'b'.repeat(2100)}`, /longer than 2048 bytes/],
    [`spiffe://${'d'.repeat(256)}/ns/a/sa/b`, /longer than 255 characters/],
  ]
  for (const [uri, reason] of refused) t.throws(() => parseSpiffeId(uri), reason, uri.slice(0, 60))
  t.throws(() => spiffeId({ trustDomain: td, namespace: 'a/b', serviceAccount: 'c' }), IdentityError)
  t.throws(() => spiffeId({ trustDomain: 'x y', namespace: 'a', serviceAccount: 'c' }), /trust domain/)
})

t.test('X.509-SVIDs: the identity of a good one; each bad one refused for its own reason', async (t) => {
  const now = new Date('2026-12-07T12:00:00Z')
  const root = await createCA('weft mesh', 3650, now)
  const other = await createCA('another mesh', 3650, now)
  const svid = (ca = root, uris = ['spiffe://cluster.local/ns/shop/sa/cart'], extra: { dnsNames?: string[]; publicKeyPem?: string } = {}) =>
    issueCertificate(ca, { commonName: 'cart', uris, usages: ['client', 'server'], validityDays: 1, now, ...extra }).then((c) => c.certPem)
  const check = { trustDomain: td, rootPem: root.certPem, now: new Date(now.getTime() + 3600_000) }

  t.same(await verifySvid(await svid(), check), { trustDomain: td, namespace: 'shop', serviceAccount: 'cart' })
  t.same(await verifySvid(await svid(root, ['spiffe://cluster.local/ns/shop/sa/cart'], { dnsNames: ['cart.shop.svc'] }), check), { trustDomain: td, namespace: 'shop', serviceAccount: 'cart' }, 'other kinds of SAN may be there too')

  const refused: [string, Promise<string>, RegExp, Partial<typeof check>?][] = [
    ['signed by another CA', svid(other), /not signed by the mesh root/],
    ['expired', svid(), /expired at/, { now: new Date(now.getTime() + 2 * 86_400_000) }],
    ['not yet valid', svid(), /not valid before/, { now: new Date(now.getTime() - 3600_000) }],
    ['wrong trust domain', svid(root, ['spiffe://other.domain/ns/shop/sa/cart']), /trust domain other\.domain, not the mesh's cluster\.local/],
    ['no URI SAN', svid(root, []), /0 URI subject alternative names/],
    ['two URI SANs', svid(root, ['spiffe://cluster.local/ns/shop/sa/cart', 'spiffe://cluster.local/ns/shop/sa/admin']), /2 URI subject alternative names/],
    ['a URI that is not a mesh identity', svid(root, ['https://cluster.local/ns/shop/sa/cart']), /scheme must be spiffe/],
    ['a CA certificate', Promise.resolve(root.certPem), /it is a CA certificate/],
    ['garbage', Promise.resolve('not a certificate'), /not a readable X\.509 certificate/],
  ]
  for (const [what, pem, reason, over] of refused) {
    await t.rejects(verifySvid(await pem, { ...check, ...over }), reason, what)
  }
  // An RSA key is not the mesh's ECDSA P-256.
  const rsa = await generateKeyPair('rsa-2048')
  const rsaSvid = await svid(root, ['spiffe://cluster.local/ns/shop/sa/cart'], { publicKeyPem: publicKeyPemOf(readPrivateKey(rsa.privateKeyPem, 'rsa')) })
  await t.rejects(verifySvid(rsaSvid, check), /its key is RSA, not ECDSA P-256/)
  await t.rejects(verifySvid(await svid(), { ...check, rootPem: 'junk' }), /mesh root: not a readable/)
})
