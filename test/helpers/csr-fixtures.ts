// A real PKCS#10 request and a self-signed certificate (openssl, throwaway P-256 key that
// was never kept), base64-encoded as CSR JSON carries them.

export const csrPem = `-----BEGIN CERTIFICATE REQUEST-----
MIHsMIGSAgEAMDAxFzAVBgNVBAMMDnN5c3RlbTpub2RlOm4xMRUwEwYDVQQKDAxz
eXN0ZW06bm9kZXMwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQlDWoqD2zKYyiL
dURfR4LOKptf7ynmfUy7csO0b+W9wj7ohQhBfGeIJMVYXIyAQ8rw0lppdMu0D96G
iRSmLoEWoAAwCgYIKoZIzj0EAwIDSQAwRgIhAL78nEhIMCFbJVFI2Jjr1PyV/nY6
GmdFoA+lG5Ge0jyfAiEAwCHI8EXM6yx84NSzd5koUEJyR5+MxUlZ1Ssrb7FXT1E=
-----END CERTIFICATE REQUEST-----
`

export const certPem = `-----BEGIN CERTIFICATE-----
MIIBbzCCARWgAwIBAgIUUEzxyxTv5dv7h5vHVRX+1Xr9plMwCgYIKoZIzj0EAwIw
DTELMAkGA1UEAwwCbjEwHhcNMjYxMjA2MTU0MjM4WhcNMjYxMjA3MTU0MjM4WjAN
MQswCQYDVQQDDAJuMTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCUNaioPbMpj
KIt1RF9Hgs4qm1/vKeZ9TLtyw7Rv5b3CPuiFCEF8Z4gkxVhcjIBDyvDSWml0y7QP
3oaJFKYugRajUzBRMB0GA1UdDgQWBBRmcyyaTNj7AM8edBGznIqoXvyPAzAfBgNV
HSMEGDAWgBRmcyyaTNj7AM8edBGznIqoXvyPAzAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0gAMEUCIQDnkSCURWWBO2YpOcPEb/p5LA0O/ggHN0XvxiynHle4
oAIgUIfZYU7jdcmbk80pEQaarOQlTeVK+NeUT70vArJsExc=
-----END CERTIFICATE-----
`

export const b64 = (text: string): string => Buffer.from(text).toString('base64')

type Obj = Record<string, any>

/** A valid CertificateSigningRequest body; `mutate` edits it. */
export function csr(name = 'node-csr', mutate: (o: Obj) => void = () => {}): Obj {
  const o: Obj = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: {
      request: b64(csrPem),
      signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
      usages: ['digital signature', 'client auth'],
      expirationSeconds: 86400,
    },
  }
  mutate(o)
  return o
}
