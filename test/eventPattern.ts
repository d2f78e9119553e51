/**
 * EventBridge's matching rules, for the subset of pattern syntax the alerts use: lists of
 * literal values, `prefix`, `anything-but` (a value, a list or a prefix), `exists`, and nested
 * objects; an array in the event matches when any element does. Written from the EventBridge
 * user guide's "Event patterns" and "Content filtering" pages.
 */
type Pattern = object;

function matchesFilter(filter: unknown, value: unknown, present: boolean): boolean {
  if (filter === null || typeof filter !== "object") return present && value === filter;
  const rule = filter as Record<string, unknown>;
  if ("exists" in rule) return rule.exists === present;
  if (!present) return false;
  if ("prefix" in rule) return typeof value === "string" && value.startsWith(rule.prefix as string);
  if ("anything-but" in rule) {
    const excluded = rule["anything-but"];
    if (Array.isArray(excluded)) return !excluded.includes(value);
    if (excluded !== null && typeof excluded === "object" && "prefix" in excluded) {
      return !(
        typeof value === "string" && value.startsWith((excluded as { prefix: string }).prefix)
      );
    }
    return value !== excluded;
  }
  throw new Error(`unsupported filter ${JSON.stringify(filter)}`);
}

function matchesValues(filters: unknown[], value: unknown, present: boolean): boolean {
  const values = Array.isArray(value) ? value : [value];
  return filters.some((filter) =>
    Array.isArray(value) && value.length === 0
      ? matchesFilter(filter, undefined, false)
      : values.some((item) => matchesFilter(filter, item, present)),
  );
}

/** Whether EventBridge would deliver `event` to a rule with `pattern`. */
export function matchesEventPattern(pattern: Pattern, event: Record<string, unknown>): boolean {
  return Object.entries(pattern as Record<string, unknown>).every(([key, expected]) => {
    const present = key in event && event[key] !== undefined;
    if (Array.isArray(expected)) return matchesValues(expected, event[key], present);
    if (!present || event[key] === null || typeof event[key] !== "object") return false;
    return matchesEventPattern(expected as Pattern, event[key] as Record<string, unknown>);
  });
}
