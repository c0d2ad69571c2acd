import t from 'tap'
import { parseGoBool } from '../../src/util/go-bool.ts'

t.test("Go's strconv.ParseBool spellings, nothing else", async (t) => {
  for (const v of ['1', 't', 'T', 'true', 'TRUE', 'True']) t.equal(parseGoBool(v), true, v)
  for (const v of ['0', 'f', 'F', 'false', 'FALSE', 'False']) t.equal(parseGoBool(v), false, v)
  for (const v of ['', 'yes', 'tRUE', ' true', 'true ', 'on']) t.equal(parseGoBool(v), undefined, JSON.stringify(v))
})
