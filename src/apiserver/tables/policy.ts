// PodDisruptionBudget columns.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node'
import { ageColumn, col, nameColumn, since } from './format.ts'
import type { Printer } from './format.ts'

/** IntOrString.String(): an int bare, a percentage as written; `N/A` when unset. */
function intOrPercent(value: number | string | undefined | null): string {
  return value === undefined || value === null ? 'N/A' : String(value)
}

export const podDisruptionBudgetPrinter: Printer = {
  columns: [
    nameColumn(),
    col('Min Available', 'string', 'The minimum number of pods that must be available.'),
    col('Max Unavailable', 'string', 'The maximum number of pods that may be unavailable.'),
    col('Allowed Disruptions', 'integer', 'Calculated number of pods that may be disrupted at this time.'),
    ageColumn(),
  ],
  row(obj, now) {
    const pdb = obj as V1PodDisruptionBudget
    const spec = pdb.spec
    return {
      cells: [pdb.metadata?.name ?? '', intOrPercent(spec?.minAvailable), intOrPercent(spec?.maxUnavailable), pdb.status?.disruptionsAllowed ?? 0, since(pdb.metadata?.creationTimestamp, now)],
    }
  },
}
