// PEM from untrusted text: labels checked, base64 strict, one block where one is expected.
import t from 'tap'
import { decodePem, decodePemBlocks, encodePem } from '../../src/pki/pem.ts'

const der = Buffer.from('3003020101', 'hex')

t.test('round-trips, skipping text around blocks', async (t) => {
  const pem = encodePem('CERTIFICATE', der)
  t.match(pem, /^-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n$/)
  const block = decodePem(`Certificate:\n  explanatory text\n${pem}trailing\n`, ['CERTIFICATE'], 'x')
  t.same(block.der, der)
  t.equal(decodePemBlocks(pem + pem, 'x').length, 2)
  t.same(decodePemBlocks('no pem here', 'x'), [])
})

t.test('refuses what is not exactly one well-formed block of the expected label', async (t) => {
  const pem = encodePem('CERTIFICATE', der)
  t.throws(() => decodePem(pem, ['CERTIFICATE REQUEST'], 'the CSR'), /the CSR: PEM label is "CERTIFICATE", expected "CERTIFICATE REQUEST"/)
  t.throws(() => decodePem(pem + pem, ['CERTIFICATE'], 'x'), /expected one PEM block, found 2/)
  t.throws(() => decodePem('', ['CERTIFICATE'], 'x'), /no PEM block found/)
  t.throws(() => decodePem(pem.replace('END CERTIFICATE', 'END PRIVATE KEY'), ['CERTIFICATE'], 'x'), /no matching END line/)
  t.throws(() => decodePem(pem.replace('MAMCAQE=', 'MAM*AQE='), ['CERTIFICATE'], 'x'), /not valid base64/)
  t.throws(() => decodePem(pem.replace('MAMCAQE=', 'MAMCAQE'), ['CERTIFICATE'], 'x'), /not valid base64/)
  t.throws(() => decodePem('-----BEGIN CERTIFICATE\nMAMCAQE=\n-----END CERTIFICATE-----\n', ['CERTIFICATE'], 'x'), /malformed PEM/)
  t.throws(() => decodePem('-----BEGIN cert-----\nMAMCAQE=\n-----END cert-----\n', ['CERTIFICATE'], 'x'), /malformed PEM label/)
  t.throws(() => decodePem('x'.repeat((1 << 20) + 1), ['CERTIFICATE'], 'x'), /larger than/)
})

t.test('a block that opens inside another is refused', async (t) => {
  t.throws(() => decodePemBlocks('-----BEGIN A-----\n'.repeat(50_000), 'x'), /no matching END line/)
  t.throws(() => decodePemBlocks('-----BEGIN A-----\n-----BEGIN A-----\nMAMCAQE=\n-----END A-----\n', 'x'), /not valid base64/)
})
