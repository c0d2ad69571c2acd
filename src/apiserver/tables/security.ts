// ServiceAccount, RoleBinding, ClusterRoleBinding and CertificateSigningRequest columns
// (Roles and ClusterRoles print with the server's default Name / Created At columns upstream too).
import type { RbacV1Subject, V1CertificateSigningRequest, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node'
import { modelDoc } from '../../api/schema.ts'
import { ageColumn, col, humanDuration, nameColumn, since } from './format.ts'
import type { Printer } from './format.ts'

function doc(model: string, field: string): string {
  return modelDoc(model)?.fields.get(field)?.description ?? ''
}

export const serviceAccountPrinter: Printer = {
  columns: [nameColumn(), col('Secrets', 'string', doc('V1ServiceAccount', 'secrets')), ageColumn()],
  row(obj, now) {
    const sa = obj as V1ServiceAccount
    return { cells: [sa.metadata?.name ?? '', (sa.secrets ?? []).length, since(sa.metadata?.creationTimestamp, now)] }
  },
}

/** rbac.SubjectsStrings: users, groups and service accounts (`namespace/name`) for display. */
export function subjectsStrings(subjects: RbacV1Subject[] | undefined): { users: string[]; groups: string[]; serviceAccounts: string[] } {
  const out = { users: [] as string[], groups: [] as string[], serviceAccounts: [] as string[] }
  for (const s of subjects ?? []) {
    if (s.kind === 'ServiceAccount') out.serviceAccounts.push(`${s.namespace ?? ''}/${s.name}`)
    else if (s.kind === 'User') out.users.push(s.name)
    else if (s.kind === 'Group') out.groups.push(s.name)
  }
  return out
}

function bindingPrinter(roleRefDoc: string, noun: string): Printer {
  return {
    columns: [
      nameColumn(),
      col('Role', 'string', roleRefDoc),
      ageColumn(),
      col('Users', 'string', `Users in the ${noun}`, 1),
      col('Groups', 'string', `Groups in the ${noun}`, 1),
      col('ServiceAccounts', 'string', `ServiceAccounts in the ${noun}`, 1),
    ],
    row(obj, now) {
      const b = obj as V1RoleBinding
      const { users, groups, serviceAccounts } = subjectsStrings(b.subjects)
      return {
        cells: [
          b.metadata?.name ?? '',
          `${b.roleRef?.kind ?? ''}/${b.roleRef?.name ?? ''}`,
          since(b.metadata?.creationTimestamp, now),
          users.join(', '),
          groups.join(', '),
          serviceAccounts.join(', '),
        ],
      }
    },
  }
}

export const roleBindingPrinter = bindingPrinter(
  'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.',
  'roleBinding',
)

export const clusterRoleBindingPrinter = bindingPrinter(
  'RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.',
  'clusterRoleBinding',
)

/** `Pending`, `Approved` or `Denied` (Denied wins), then `,Failed` and `,Issued` as they apply. */
export function csrCondition(csr: V1CertificateSigningRequest): string {
  const types = new Set((csr.status?.conditions ?? []).map((c) => c.type))
  let status = types.has('Denied') ? 'Denied' : types.has('Approved') ? 'Approved' : 'Pending'
  if (types.has('Failed')) status += ',Failed'
  if (csr.status?.certificate) status += ',Issued'
  return status
}

export const certificateSigningRequestPrinter: Printer = {
  columns: [
    nameColumn(),
    ageColumn(),
    col('SignerName', 'string', doc('V1CertificateSigningRequestSpec', 'signerName')),
    col('Requestor', 'string', doc('V1CertificateSigningRequestSpec', 'request')),
    col('RequestedDuration', 'string', doc('V1CertificateSigningRequestSpec', 'expirationSeconds')),
    col('Condition', 'string', doc('V1CertificateSigningRequestStatus', 'conditions')),
  ],
  row(obj, now) {
    const csr = obj as V1CertificateSigningRequest
    const seconds = csr.spec?.expirationSeconds
    return {
      cells: [
        csr.metadata?.name ?? '',
        since(csr.metadata?.creationTimestamp, now),
        csr.spec?.signerName || '<none>',
        csr.spec?.username ?? '',
        typeof seconds === 'number' ? humanDuration(seconds * 1000) : '<none>',
        csrCondition(csr),
      ],
    }
  },
}
