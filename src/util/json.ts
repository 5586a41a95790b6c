// Plain data → JSON values, checked rather than cast: what goes into checkpoint metadata.
import { z } from 'zod';

/** A JSON value (what checkpoint and export metadata hold). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export const JsonSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonSchema), z.record(JsonSchema)]),
);

/** `value` as JSON (undefined fields dropped, as JSON.stringify does); throws on what JSON cannot hold. */
export function toJson(value: unknown): JsonValue {
  return JsonSchema.parse(JSON.parse(JSON.stringify(value)));
}
