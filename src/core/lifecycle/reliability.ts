/**
 * Reliability figures, from operating hours and corrective work orders:
 *
 *   MTBF = operating hours / failures           (a failure: a corrective order opened)
 *   MTTR = repair hours / repairs               (a repair: a corrective order closed, with its hours)
 *   availability = operating hours / (operating hours + repair hours)
 *
 * Availability is the inherent one, MTBF / (MTBF + MTTR) when every failure is repaired; it is
 * also defined before the first failure (1 once the asset has run). A figure with nothing to
 * divide by is null. For a fleet the sums are taken first, then divided, so a twin that ran
 * longer weighs more.
 */
export interface Usage {
  operatingHours: number;
  failures: number;
  repairs: number;
  repairHours: number;
}

export interface Figures {
  mtbf: number | null;
  mttr: number | null;
  availability: number | null;
}

export function figures(u: Usage): Figures {
  return {
    mtbf: u.failures > 0 ? round(u.operatingHours / u.failures) : null,
    mttr: u.repairs > 0 ? round(u.repairHours / u.repairs) : null,
    availability: u.operatingHours + u.repairHours > 0 ? round(u.operatingHours / (u.operatingHours + u.repairHours)) : null,
  };
}

export function fleetFigures(list: Iterable<Usage>): Usage & Figures {
  const sum: Usage = { operatingHours: 0, failures: 0, repairs: 0, repairHours: 0 };
  for (const u of list) {
    sum.operatingHours += u.operatingHours;
    sum.failures += u.failures;
    sum.repairs += u.repairs;
    sum.repairHours += u.repairHours;
  }
  sum.operatingHours = round(sum.operatingHours);
  sum.repairHours = round(sum.repairHours);
  return { ...sum, ...figures(sum) };
}

/** Six decimals: microhours, and ratios to a millionth. */
function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
