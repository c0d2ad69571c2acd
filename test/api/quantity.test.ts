import t from 'tap'
import { isQuantity, parseQuantity, parseQuantityMilli, parseQuantityValue, QuantityError } from '../../src/api/quantity.ts'

t.test('parses suffixes and exponents', async (t) => {
  const cases: Array<[string | number, number, number, number]> = [
    // input, value, milli (rounded up), value (rounded up)
    ['100m', 0.1, 100, 1],
    ['1', 1, 1000, 1],
    ['1.5', 1.5, 1500, 2],
    ['.5', 0.5, 500, 1],
    ['5.', 5, 5000, 5],
    ['1Ki', 1024, 1024000, 1024],
    ['500Mi', 524288000, 524288000000, 524288000],
    ['1Gi', 1073741824, 1073741824000, 1073741824],
    ['128974848', 128974848, 128974848000, 128974848],
    ['129e6', 129e6, 129e9, 129e6],
    ['1e3', 1000, 1e6, 1000],
    ['12E-1', 1.2, 1200, 2],
    ['1k', 1000, 1e6, 1000],
    ['1M', 1e6, 1e9, 1e6],
    ['2G', 2e9, 2e12, 2e9],
    ['1E', 1e18, 1e21, 1e18],
    ['250u', 0.00025, 1, 1],
    ['1n', 1e-9, 1, 1],
    ['+3', 3, 3000, 3],
    ['-2', -2, -2000, -2],
    [2.5, 2.5, 2500, 3],
    [0, 0, 0, 0],
  ]
  for (const [input, value, milli, whole] of cases) {
    t.equal(parseQuantity(input), value, `${input} value`)
    t.equal(parseQuantityMilli(input), milli, `${input} milli`)
    t.equal(parseQuantityValue(input), whole, `${input} whole`)
  }
})

t.test('rejects malformed quantities', async (t) => {
  for (const bad of ['', 'abc', '1Zi', '1.2.3', 'e3', '1e', '1 Gi', 'Gi', '1mi', '--1']) {
    t.equal(isQuantity(bad), false, JSON.stringify(bad))
    t.throws(() => parseQuantity(bad), QuantityError)
  }
  t.equal(isQuantity('1Gi'), true)
  t.equal(isQuantity({}), false)
})
