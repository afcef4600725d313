// Converters for [spamd] values whose syntax is ours: spam scores and message sizes.
import * as v from "valibot";

/** A spam score such as 5, 5.0, -1.5 or 12.25: the front reports scores with two decimals. */
export const spamScore = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^-?\d{1,4}(\.\d{1,2})?$/, "expected a score such as 5, 5.0 or 12.25 (at most two decimals)"),
  v.transform(Number),
);

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 * 1024 };

/** A size in bytes: 512000, 500k, 10M (k and M are 1024 and 1024²). */
export const byteSize = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d{1,10}\s*[kKmM]?$/, "expected a size such as 512000, 500k or 10M"),
    v.transform((value) =>
      Number(value.replace(/\D/g, "")) * UNITS[value.replace(/[\d\s]/g, "").toLowerCase()]
    ),
    v.minValue(min, `must be at least ${min} bytes`),
    v.maxValue(max, `must be at most ${max} bytes`),
  );
