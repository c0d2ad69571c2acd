import t from 'tap'
import { addQuantities, compareQuantities, formatQuantity, quantityMilliValue, quantityValue, subtractQuantities, toQuantity, wholeUnits } from '../../src/api/resource-quantity.ts'
import { QuantityError } from '../../src/api/quantity.ts'

const canon = (s: string | number) => formatQuantity(toQuantity(s))

t.test('prints the canonical text Quantity.String() prints, in the format written', async (t) => {
  const cases: Array<[string | number, string]> = [
    ['100m', '100m'],
    ['1000m', '1'],
    ['1.5', '1500m'],
    ['0.5', '500m'],
    ['1500', '1500'],
    ['2000', '2k'],
    ['1Ki', '1Ki'],
    ['1024', '1024'],
    ['2048Mi', '2Gi'],
    ['1536Mi', '1536Mi'],
    ['1.5Gi', '1536Mi'],
    ['0.5Ki', '512'],
    ['1e3', '1e3'],
    ['12e2', '1200'],
    ['1E-3', '1e-3'],
    ['0', '0'],
    ['0Mi', '0'],
    ['-2Ki', '-2Ki'],
    ['1n', '1n'],
    ['1e-12', '1e-9'],
    ['0.0000000001', '1n'],
    ['5000E', '5e21'],
    [2, '2'],
    [0.25, '250m'],
  ]
  for (const [input, want] of cases) t.equal(canon(input), want, String(input))
})

t.test('sums keep the left format unless it is zero; values compare across formats', async (t) => {
  const sum = (a: string, b: string) => formatQuantity(addQuantities(toQuantity(a), toQuantity(b)))
  t.equal(sum('128Mi', '128Mi'), '256Mi')
  t.equal(sum('1', '500m'), '1500m')
  t.equal(sum('0', '1Gi'), '1Gi', 'a zero takes the other format')
  t.equal(sum('1Gi', '500M'), '1573741824', 'a binary sum that is no power of 1024 prints whole')
  t.equal(formatQuantity(subtractQuantities(toQuantity('1'), toQuantity('250m'))), '750m')
  t.equal(compareQuantities(toQuantity('1'), toQuantity('1000m')), 0)
  t.equal(compareQuantities(toQuantity('1Ki'), toQuantity('1k')), 1)
  t.equal(compareQuantities(toQuantity('999m'), toQuantity('1')), -1)
})

t.test('Value and MilliValue round away from zero; RoundUp(0) gives whole units', async (t) => {
  t.equal(quantityValue(toQuantity('1500m')), 2n)
  t.equal(quantityValue(toQuantity('-1500m')), -2n)
  t.equal(quantityMilliValue(toQuantity('1500u')), 2n)
  t.equal(formatQuantity(wholeUnits(toQuantity('1500m'))), '2')
  t.equal(formatQuantity(wholeUnits(toQuantity('1Gi'))), '1Gi')
})

t.test('what is not a quantity is refused with the upstream message', async (t) => {
  t.throws(() => toQuantity('1.2.3'), QuantityError)
  t.throws(() => toQuantity('abc'), /quantities must match the regular expression/)
})
