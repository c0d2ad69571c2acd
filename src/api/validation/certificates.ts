// CertificateSigningRequest (k8s.io/kubernetes/pkg/apis/certificates/validation), for create,
// update, and the /status and /approval subresources.
import { isDNS1123Label, isDNS1123Subdomain, DNS1123LabelMaxLength, DNS1123SubdomainMaxLength } from '../names.ts'
import type { FieldCause, Obj } from './field.ts'
import { arr, deepEqual, duplicate, forbidden, invalid, notSupported, num, obj, required, str, tooLong } from './field.ts'
import { pemBlocks, signedStructureProblem } from './pem.ts'

/**
 * Checks a PEM `CERTIFICATE REQUEST` fully (parse and signature): returns the problem, or
 * undefined when it is good. Supplied by the PKI module; without it only the shape is checked.
 */
export type CertificateRequestCheck = (pem: string) => string | undefined

export interface CsrValidationOptions {
  checkRequest?: CertificateRequestCheck
}

export const legacyUnknownSigner = 'kubernetes.io/legacy-unknown'

export const validUsages: readonly string[] = [
  'any', 'cert sign', 'client auth', 'code signing', 'content commitment', 'crl sign', 'data encipherment',
  'decipher only', 'digital signature', 'email protection', 'encipher only', 'ipsec end system', 'ipsec tunnel',
  'ipsec user', 'key agreement', 'key encipherment', 'microsoft sgc', 'netscape sgc', 'ocsp signing', 's/mime',
  'server auth', 'signing', 'timestamping',
]

const approvalTypes = ['Approved', 'Denied']
const trueOnlyTypes = new Set(['Approved', 'Denied', 'Failed'])

function decodeBase64(value: unknown): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.alloc(0)
}

function requestProblem(request: unknown, check: CertificateRequestCheck | undefined): string | undefined {
  const block = pemBlocks(decodeBase64(request).toString('latin1'))[0]
  if (!block || block.type !== 'CERTIFICATE REQUEST') return 'PEM block type must be CERTIFICATE REQUEST'
  return signedStructureProblem(block.bytes, 'certificate request') ?? check?.(block.text)
}

function certificateProblem(certificate: unknown): string | undefined {
  const data = decodeBase64(certificate)
  if (data.length === 0) return undefined
  const blocks = pemBlocks(data.toString('latin1'))
  for (const block of blocks) {
    if (block.type !== 'CERTIFICATE') return `only CERTIFICATE PEM blocks are allowed, found ${JSON.stringify(block.type)}`
    if (block.headers) return 'no PEM block headers are permitted'
    const problem = signedStructureProblem(block.bytes, 'certificate')
    if (problem) return problem
  }
  return blocks.length === 0 ? 'must contain at least one CERTIFICATE PEM block' : undefined
}

/** ValidateCertificateSigningRequestSignerName: `example.com/signer-name`, up to 571 characters. */
export function validateSignerName(field: string, signerName: string): FieldCause[] {
  if (!signerName) return [required(field, 'signerName must be provided')]
  const segments = signerName.split('/')
  if (segments.length !== 2) return [invalid(field, signerName, "must be a fully qualified domain and path of the form 'example.com/signer-name'")]
  const errs: FieldCause[] = []
  const [domain, path] = segments
  if (domain.length > DNS1123SubdomainMaxLength) errs.push(tooLong(field, DNS1123SubdomainMaxLength))
  const labels = domain.split('.')
  for (const label of labels) {
    const problems = isDNS1123Label(label)
    if (problems.length > 0) {
      errs.push(...problems.map((p) => invalid(field, domain, `validating label ${JSON.stringify(label)}: ${p}`)))
      break
    }
  }
  if (labels.length < 2) errs.push(invalid(field, domain, 'should be a domain with at least two segments separated by dots'))
  for (const label of path.split('.')) {
    const problems = isDNS1123Subdomain(label)
    if (problems.length > 0) {
      errs.push(...problems.map((p) => invalid(field, path, `validating label ${JSON.stringify(label)}: ${p}`)))
      break
    }
  }
  const max = DNS1123SubdomainMaxLength + (DNS1123SubdomainMaxLength + DNS1123LabelMaxLength + 1) + 1
  if (signerName.length > max) errs.push(tooLong(field, max))
  return errs
}

function conditionsOf(o: Obj): Obj[] {
  return arr(obj(o.status).conditions).map(obj)
}

function ofType(o: Obj, type: string): Obj[] {
  return conditionsOf(o).filter((c) => str(c.type) === type)
}

interface Tolerance {
  bothApprovedAndDenied: boolean
  legacySigner: boolean
  duplicateConditionTypes: boolean
  emptyConditionType: boolean
  arbitraryCertificate: boolean
  unknownUsages: boolean
  duplicateUsages: boolean
}

/** What an update tolerates because the stored object already has it (upstream's compatibility options). */
function tolerance(o: Obj, old: Obj | undefined): Tolerance {
  const oldSpec = obj(old?.spec)
  const oldTypes = old ? conditionsOf(old).map((c) => str(c.type)) : []
  const oldUsages = arr(oldSpec.usages).map(str)
  return {
    bothApprovedAndDenied: oldTypes.includes('Approved') && oldTypes.includes('Denied'),
    legacySigner: str(oldSpec.signerName) === legacyUnknownSigner,
    duplicateConditionTypes: new Set(oldTypes).size !== oldTypes.length,
    emptyConditionType: oldTypes.includes(''),
    arbitraryCertificate:
      old !== undefined &&
      (str(obj(o.status).certificate) === str(obj(old.status).certificate) || certificateProblem(obj(old.status).certificate) !== undefined),
    unknownUsages: oldUsages.some((u) => !validUsages.includes(u)),
    duplicateUsages: new Set(oldUsages).size !== oldUsages.length,
  }
}

function validateConditions(o: Obj, tol: Tolerance): FieldCause[] {
  const errs: FieldCause[] = []
  const seen = new Set<string>()
  let approved = false
  let denied = false
  conditionsOf(o).forEach((c, i) => {
    const path = `status.conditions[${i}]`
    const type = str(c.type)
    const status = str(c.status)
    if (!type && !tol.emptyConditionType) errs.push(required(`${path}.type`))
    const allowed = trueOnlyTypes.has(type) ? ['True'] : ['False', 'True', 'Unknown']
    if (!status) errs.push(required(`${path}.status`))
    else if (!allowed.includes(status)) errs.push(notSupported(`${path}.status`, status, allowed))
    if (!tol.bothApprovedAndDenied) {
      if (type === 'Approved') {
        approved = true
        if (denied) errs.push(invalid(`${path}.type`, type, 'Approved and Denied conditions are mutually exclusive'))
      } else if (type === 'Denied') {
        denied = true
        if (approved) errs.push(invalid(`${path}.type`, type, 'Approved and Denied conditions are mutually exclusive'))
      }
    }
    if (!tol.duplicateConditionTypes) {
      if (seen.has(type)) errs.push(duplicate(`${path}.type`, type))
      seen.add(type)
    }
  })
  return errs
}

function validateCsr(o: Obj, tol: Tolerance, options: CsrValidationOptions): FieldCause[] {
  const errs: FieldCause[] = []
  const spec = obj(o.spec)
  const problem = requestProblem(spec.request, options.checkRequest)
  if (problem) errs.push(invalid('spec.request', str(spec.request), problem))
  const usages = arr(spec.usages)
  if (usages.length === 0) errs.push(required('spec.usages', 'usages must be provided'))
  if (!tol.unknownUsages) {
    usages.forEach((u, i) => {
      if (!validUsages.includes(str(u))) errs.push(notSupported(`spec.usages[${i}]`, u, validUsages))
    })
  }
  if (!tol.duplicateUsages) {
    const seen = new Set<unknown>()
    usages.forEach((u, i) => {
      if (seen.has(u)) errs.push(duplicate(`spec.usages[${i}]`, u))
      seen.add(u)
    })
  }
  const signerName = str(spec.signerName)
  if (!tol.legacySigner && signerName === legacyUnknownSigner) {
    errs.push(invalid('spec.signerName', signerName, 'the legacy signerName is not allowed via this API version'))
  } else {
    errs.push(...validateSignerName('spec.signerName', signerName))
  }
  const expiration = num(spec.expirationSeconds)
  if (expiration !== undefined && expiration < 600) {
    errs.push(invalid('spec.expirationSeconds', expiration, 'may not specify a duration less than 600 seconds (10 minutes)'))
  }
  errs.push(...validateConditions(o, tol))
  if (!tol.arbitraryCertificate) {
    const certProblem = certificateProblem(obj(o.status).certificate)
    if (certProblem) errs.push(invalid('status.certificate', '<certificate data>', certProblem))
  }
  return errs
}

/**
 * A CSR on create (`old` undefined) or update; `subresource` says which write: the main
 * resource, `status` (may set status.certificate once) or `approval` (may add Approved/Denied).
 */
export function validateCertificateSigningRequest(o: Obj, old: Obj | undefined, subresource: string | undefined, options: CsrValidationOptions = {}): FieldCause[] {
  const errs = validateCsr(o, tolerance(o, old), options)
  if (!old) return errs
  for (const type of ['Approved', 'Denied', 'Failed']) {
    if (ofType(o, type).length < ofType(old, type).length) {
      errs.push(forbidden('status.conditions', `updates may not remove a condition of type ${JSON.stringify(type)}`))
    }
  }
  if (subresource !== 'approval') {
    for (const type of approvalTypes) {
      const before = ofType(old, type)
      const after = ofType(o, type)
      if (after.length > before.length) errs.push(forbidden('status.conditions', `updates may not add a condition of type ${JSON.stringify(type)}`))
      else if (after.length === before.length && !deepEqual(before, after)) {
        errs.push(forbidden('status.conditions', `updates may not modify a condition of type ${JSON.stringify(type)}`))
      }
    }
  }
  const certificate = str(obj(o.status).certificate)
  const oldCertificate = str(obj(old.status).certificate)
  if (certificate !== oldCertificate) {
    if (subresource !== 'status') errs.push(forbidden('status.certificate', 'updates may not set certificate content'))
    else if (oldCertificate) errs.push(forbidden('status.certificate', 'updates may not modify existing certificate content'))
  }
  return errs
}
