// Everything the API server needs to decide who calls and what they may do, kept in one
// place: TLS material, the bearer-token chain, the authorizers (node, then RBAC) fed from
// the store, and the admission plugins that guard security-relevant writes.
import type { V1Pod, V1ServiceAccount } from '@kubernetes/client-node'
import { resources, type ResourceInfo } from '../api/registry.ts'
import { NodeAuthorizer } from '../auth/node/node-authorizer.ts'
import { NodeGraph } from '../auth/node/node-graph.ts'
import { nodeIdentity } from '../auth/node/node-identity.ts'
import { nodeRestriction } from '../auth/node/node-restriction.ts'
import { MESH_SIGNER } from '../controllers/certificates/mesh.ts'
import { parseSpiffeId, type WorkloadIdentity } from '../../mesh/identity.ts'
import { RbacAuthorizer } from '../auth/rbac/authorizer.ts'
import { checkBindingWrite, checkRoleWrite } from '../auth/rbac/escalation.ts'
import type { RbacKind } from '../auth/rbac/objects.ts'
import { BootstrapTokenAuthenticator, ServiceAccountTokens, TokenAuthenticator } from '../auth/tokens/index.ts'
import { BOOTSTRAP_TOKEN_SECRET_TYPE } from '../auth/tokens/bootstrap-token.ts'
import type { UserInfo } from '../auth/types.ts'
import { forbidden, invalid, isAlreadyExists, type ApiError } from '../util/errors.ts'
import { resourceRef } from './objects.ts'
import { parseCertificateRequest } from '../pki/csr.ts'
import type { ClusterPki } from '../pki/cluster-pki.ts'
import type { Logger } from '../util/log.ts'
import { admitPodServiceAccount, ROOT_CA_CONFIGMAP, serviceAccountNameOf } from './admission/service-account.ts'
import { AuthorizerChain } from './auth.ts'
import type { KObject, ObjectStore } from './objects.ts'
import type { Admission, AdmissionRequest, Identity } from './resource-handler.ts'
import type { TokenReviewer } from './review-answers.ts'
import { StoreFeed } from './store-feed.ts'

export interface ApiServerSecurity {
  /** The serving certificate followed by the CA that signed it (joining nodes pin that CA), and its key. */
  servingCertPem: string
  servingKeyPem: string
  /** The CAs whose client certificates authenticate. */
  clientCaPem: string
  /** The cluster CA, published to pods as kube-root-ca.crt. */
  caPem: string
  /** Signs service-account tokens (RSA, PKCS#8 PEM). */
  serviceAccountSigningKeyPem: string
  /** More public keys whose tokens are accepted (a rotated-out signing key). */
  serviceAccountPublicKeysPem?: string[]
  /** The `iss` of service-account tokens. */
  issuer: string
  /** The audiences the API server accepts tokens for. */
  apiAudiences: string[]
  /** The client certificate the API server shows kubelets (apiserver-kubelet-client); their serving certificates are checked against caPem. */
  kubeletClient?: { certPem: string; keyPem: string }
}

const kind = (k: string): ResourceInfo => {
  const info = resources.find((r) => r.kind === k)
  if (!info) throw new Error(`internal error: kind ${k} is not served`)
  return info
}

function userOf(identity: Identity): UserInfo {
  return { username: identity.user, uid: identity.uid, groups: identity.groups, extra: identity.extra }
}

const rbacKinds: RbacKind[] = ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']

export class ServerSecurity {
  readonly options: ApiServerSecurity
  readonly tokens: TokenAuthenticator
  readonly serviceAccountTokens: ServiceAccountTokens
  readonly rbac = new RbacAuthorizer()
  readonly graph = new NodeGraph()
  readonly authorizer: AuthorizerChain
  readonly admission: Admission
  readonly reviewer: TokenReviewer
  readonly #objects: ObjectStore
  readonly #feeds: StoreFeed[]
  readonly #rootCaSeen = new Set<string>()
  readonly #log: Logger

  constructor(options: ApiServerSecurity, objects: ObjectStore, log: Logger) {
    this.options = options
    this.#objects = objects
    this.#log = log
    const pods = kind('Pod')
    const get = (info: ResourceInfo, namespace: string | undefined, name: string) => objects.get(info, namespace, name)
    this.serviceAccountTokens = new ServiceAccountTokens({
      signingKeyPem: options.serviceAccountSigningKeyPem,
      verificationKeysPem: options.serviceAccountPublicKeysPem,
      issuer: options.issuer,
      apiAudiences: options.apiAudiences,
      lookup: {
        serviceAccountUid: async (ns, name) => (await get(kind('ServiceAccount'), ns, name))?.metadata.uid,
        pod: async (ns, name) => {
          const pod = await get(pods, ns, name)
          return pod && { uid: pod.metadata.uid ?? '', deleting: Boolean(pod.metadata.deletionTimestamp), nodeName: pod.spec?.nodeName }
        },
        secretUid: async (ns, name) => (await get(kind('Secret'), ns, name))?.metadata.uid,
        nodeUid: async (name) => (await get(kind('Node'), undefined, name))?.metadata.uid,
      },
    })
    const bootstrap = new BootstrapTokenAuthenticator({ getSecret: (ns, name) => get(kind('Secret'), ns, name) })
    this.tokens = new TokenAuthenticator({ bootstrap, serviceAccounts: this.serviceAccountTokens })
    this.authorizer = new AuthorizerChain([new NodeAuthorizer(this.graph), this.rbac])
    this.#feeds = [
      ...rbacKinds.map(
        (k) =>
          new StoreFeed(objects.store, kind(k), {
            upsert: (o) => this.rbac.upsert(o, k),
            remove: (o) => void this.rbac.remove(k, o.metadata.namespace ?? '', o.metadata.name),
          }, log),
      ),
      // A revoked bootstrap token or a deleted service account stops working at once, not
      // when its cached authentication expires.
      new StoreFeed(objects.store, kind('Secret'), {
        upsert: (secret) => {
          if (secret.type === BOOTSTRAP_TOKEN_SECRET_TYPE) this.tokens.invalidate()
        },
        remove: (secret) => {
          if (secret.type === BOOTSTRAP_TOKEN_SECRET_TYPE) this.tokens.invalidate()
        },
      }, log, 'kube-system'),
      new StoreFeed(objects.store, kind('ServiceAccount'), { upsert: () => {}, remove: () => this.tokens.invalidate() }, log),
      new StoreFeed(objects.store, pods, {
        upsert: (p) => void this.graph.upsertPod(p),
        remove: (p) => this.graph.removePod(p.metadata.namespace ?? '', p.metadata.name),
      }, log),
      new StoreFeed(objects.store, kind('PersistentVolumeClaim'), {
        upsert: (c) => this.graph.upsertClaim(c),
        remove: (c) => this.graph.removeClaim(c.metadata.namespace ?? '', c.metadata.name),
      }, log),
      new StoreFeed(objects.store, kind('PersistentVolume'), { upsert: (v) => this.graph.upsertVolume(v), remove: (v) => this.graph.removeVolume(v.metadata.name) }, log),
    ]
    this.reviewer = {
      review: async (token, audiences) => {
        if (audiences.length === 0) {
          const r = await this.tokens.review(token)
          return 'user' in r ? { user: r.user, audiences: [...options.apiAudiences] } : r
        }
        const r = await this.serviceAccountTokens.verify(token, { audiences })
        if (!('user' in r)) return r
        const theirs = new Set(r.claims.aud)
        return { user: r.user, audiences: audiences.filter((a) => theirs.has(a)) }
      },
    }
    this.admission = { mutate: (r) => this.#mutate(r), validate: (r) => this.#validate(r) }
  }

  async start(): Promise<void> {
    await Promise.all(this.#feeds.map((f) => f.start()))
  }

  stop(): void {
    for (const f of this.#feeds) f.stop()
  }

  async #mutate(r: AdmissionRequest): Promise<void> {
    if (r.info.kind !== 'Pod' || r.old || r.subresource) return
    const pod = r.obj as V1Pod & KObject
    const ns = pod.metadata.namespace!
    const name = serviceAccountNameOf(pod)
    const saInfo = kind('ServiceAccount')
    let account = (await this.#objects.get(saInfo, ns, name)) as (V1ServiceAccount & KObject) | undefined
    // A pod made right after its namespace would race the serviceaccount controller: the
    // default account is made on first need as well (the same object the controller makes).
    if (!account && name === 'default' && !r.dryRun) {
      account = (await this.#objects.create(saInfo, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, uid: crypto.randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } }).catch(() => this.#objects.get(saInfo, ns, name))) as (V1ServiceAccount & KObject) | undefined
    }
    if (!account) throw forbidden({ group: '', resource: 'pods' }, pod.metadata.name ?? '', `error looking up service account ${ns}/${name}: serviceaccount "${name}" not found`)
    admitPodServiceAccount(pod, account)
    if (!r.dryRun && pod.spec?.volumes?.some((v) => v.projected?.sources?.some((src) => src.configMap?.name === ROOT_CA_CONFIGMAP))) await this.#ensureRootCA(ns)
  }

  /**
   * The namespace's kube-root-ca.crt, made on first need like the default account (the
   * root-ca-cert-publisher controller keeps it right afterwards), so a pod's API-access
   * volume never waits for a controller.
   */
  async #ensureRootCA(namespace: string): Promise<void> {
    // Seen once is enough: if it goes later, the publisher controller puts it back.
    if (this.#rootCaSeen.has(namespace)) return
    const cm = kind('ConfigMap')
    if (await this.#objects.get(cm, namespace, ROOT_CA_CONFIGMAP)) {
      this.#rootCaSeen.add(namespace)
      return
    }
    const created = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
    await this.#objects
      .create(cm, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, namespace, uid: crypto.randomUUID(), creationTimestamp: created }, data: { 'ca.crt': this.options.caPem } })
      .catch((err: unknown) => {
        if (!isAlreadyExists(err)) throw err
      })
  }

  async #validate(r: AdmissionRequest): Promise<void> {
    const user = userOf(r.identity)
    if (r.info.kind === 'CertificateSigningRequest') await this.#admitCsr(r, user)
    const restricted = nodeRestriction(user, { verb: r.old ? 'update' : 'create', apiGroup: r.info.group, resource: r.info.plural, subresource: r.subresource ?? '', namespace: r.obj.metadata.namespace ?? '', name: r.obj.metadata.name }, r.obj, r.old, { pod: (ns, name) => this.graph.pod(ns, name) })
    if (restricted) throw forbidden(resourceRef(r.info), r.obj.metadata.name, restricted)
    if (r.info.group !== 'rbac.authorization.k8s.io' || r.subresource) return
    const operation = r.old ? 'update' : 'create'
    const namespace = r.obj.metadata.namespace ?? ''
    const k = r.info.kind as RbacKind
    const verdict =
      k === 'Role' || k === 'ClusterRole'
        ? checkRoleWrite({ kind: k, operation, user, namespace, object: r.obj as never, oldObject: r.old as never, authorizer: this.authorizer, resolver: this.rbac })
        : checkBindingWrite({ kind: k, operation, user, namespace, object: r.obj as never, oldObject: r.old as never, authorizer: this.authorizer, resolver: this.rbac })
    if (!verdict.allowed) throw verdict.error
  }

  /**
   * CSRs, as upstream's certificate admission plugins: the request must parse
   * (CertificateSubjectRestriction: never system:masters for the kube-apiserver-client
   * signer), and approving or signing one needs the `approve` or `sign` verb on the
   * signer (`certificates.k8s.io/signers`, named exactly or `<domain>/*`).
   */
  async #admitCsr(r: AdmissionRequest, user: UserInfo): Promise<void> {
    const signer = String(r.obj.spec?.signerName ?? '')
    if (!r.old) {
      const pem = Buffer.from(String(r.obj.spec?.request ?? ''), 'base64').toString('utf8')
      const req = await parseCertificateRequest(pem).catch((err: Error) => {
        throw invalid('CertificateSigningRequest', 'certificates.k8s.io', r.obj.metadata.name, [{ reason: 'FieldValueInvalid', field: 'spec.request', message: `Invalid value: "<PEM-encoded CSR>": ${err.message}` }])
      })
      if (signer === 'kubernetes.io/kube-apiserver-client' && req.organizations.includes('system:masters')) {
        throw forbidden(resourceRef(r.info), r.obj.metadata.name, 'use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed')
      }
      if (signer === MESH_SIGNER) this.#admitMeshRequest(r, user, req.uris)
      return
    }
    const verb = r.subresource === 'approval' ? 'approve' : r.subresource === 'status' ? 'sign' : undefined
    if (!verb) return
    const changed = verb === 'approve' ? JSON.stringify(r.obj.status?.conditions ?? []) !== JSON.stringify(r.old.status?.conditions ?? []) : (r.obj.status?.certificate ?? '') !== (r.old.status?.certificate ?? '')
    if (!changed) return
    const ask = (name: string) => this.authorizer.authorize({ resourceRequest: true, user, verb, namespace: '', apiGroup: 'certificates.k8s.io', apiVersion: '*', resource: 'signers', subresource: '', name }).decision === 'allow'
    if (ask(signer) || ask(`${signer.split('/')[0]}/*`)) return
    throw forbidden(resourceRef(r.info), r.obj.metadata.name, `user not permitted to ${verb} requests with signerName "${signer}"`)
  }

  /**
   * NodeRestriction for mesh identities: a node may ask only for the identity of a service
   * account one of its pods runs as (the node graph's pod → service account edge). The
   * approver and the signer check the same again; this refuses the request at the door.
   */
  #admitMeshRequest(r: AdmissionRequest, user: UserInfo, uris: string[]): void {
    const { isNode, nodeName } = nodeIdentity(user)
    if (!isNode) return
    let id: WorkloadIdentity | undefined
    try {
      id = uris.length === 1 ? parseSpiffeId(uris[0]!) : undefined
    } catch {}
    if (!id || !this.graph.mayRead(nodeName, 'serviceaccount', id.namespace, id.serviceAccount)) {
      throw forbidden(resourceRef(r.info), r.obj.metadata.name, `node ${JSON.stringify(nodeName)} may only request the mesh identity of a service account one of its pods runs as`)
    }
  }

  /** NodeRestriction for TokenRequests (a node may ask only for tokens bound to its own pods). */
  tokenRequestRestriction(user: UserInfo, namespace: string, name: string, request: unknown): ApiError | undefined {
    const restricted = nodeRestriction(user, { verb: 'create', apiGroup: '', resource: 'serviceaccounts', subresource: 'token', namespace, name }, request, undefined, { pod: (ns, n) => this.graph.pod(ns, n) })
    return restricted ? forbidden({ group: '', resource: 'serviceaccounts' }, name, restricted) : undefined
  }

  /** NodeRestriction for evictions (a node may evict only its own pods), which admission above does not see. */
  evictionRestriction(user: UserInfo, namespace: string, name: string, eviction: unknown): ApiError | undefined {
    const restricted = nodeRestriction(user, { verb: 'create', apiGroup: '', resource: 'pods', subresource: 'eviction', namespace, name }, eviction, undefined, { pod: (ns, n) => this.graph.pod(ns, n) })
    return restricted ? forbidden({ group: '', resource: 'pods' }, name, restricted) : undefined
  }

  /** NodeRestriction for deletes, which admission above does not see. */
  checkDelete(identity: UserInfo, info: ResourceInfo, namespace: string | undefined, name: string, current: KObject): void {
    const restricted = nodeRestriction(identity, { verb: 'delete', apiGroup: info.group, resource: info.plural, subresource: '', namespace: namespace ?? '', name }, undefined, current, { pod: (ns, n) => this.graph.pod(ns, n) })
    if (restricted) throw forbidden(resourceRef(info), name, restricted)
  }
}

/** The API server's security from the cluster PKI (`ensureClusterPki`). */
export function securityFromPki(pki: ClusterPki, clusterDomain: string): ApiServerSecurity {
  return {
    servingCertPem: pki.serving.certPem.trimEnd() + '\n' + pki.ca.certPem,
    servingKeyPem: pki.serving.keyPem,
    clientCaPem: pki.clientCaBundlePem,
    caPem: pki.ca.certPem,
    serviceAccountSigningKeyPem: pki.serviceAccount.privateKeyPem,
    issuer: `https://kubernetes.default.svc.${clusterDomain}`,
    apiAudiences: [`https://kubernetes.default.svc.${clusterDomain}`],
    kubeletClient: { certPem: pki.kubeletClient.certPem, keyPem: pki.kubeletClient.keyPem },
  }
}
