// One mechanism for every option set (networks, losses, samplers, inference, optimisers,
// configurations): a zod schema declares each option once, with its default and a
// description. From it come the TypeScript type (z.infer), the checks with messages
// that say what is allowed and what was given, "did you mean" for unknown names, and
// the README's option tables (`optionsTable`).
import { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';

/** The largest window, patch or stride side comboseg takes (voxels). */
export const MAX_SIDE = 2048;
const side = z.number().int().min(1).max(MAX_SIDE);

/** One positive integer (a cube) or three (x, y, z), at most MAX_SIDE each, always read as [x, y, z]. */
export const Vec3Schema = z
  .union([side, z.tuple([side, side, side])])
  .transform((v): [number, number, number] => (typeof v === 'number' ? [v, v, v] : v));

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** " Did you mean 'x'?" when a known name is within two edits of `name`, else ''. */
export function didYouMean(name: string, known: readonly string[]): string {
  // A known name that extends the given one ('unet' → 'unet3d') beats a closer look-alike.
  const prefixed = name.length >= 3 ? known.find((k) => k.startsWith(name)) : undefined;
  if (prefixed !== undefined) return ` Did you mean '${prefixed}'?`;
  const best = [...known].sort((a, b) => editDistance(name, a) - editDistance(name, b)).at(0);
  if (best === undefined) return ''; // no known names
  const d = editDistance(name, best);
  return d <= 2 && d < name.length ? ` Did you mean '${best}'?` : '';
}

/** The schema inside optional / default / nullable / effects wrappers. */
export function unwrap(s: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable) {
      s = (s._def as { innerType: z.ZodTypeAny }).innerType;
    } else if (s instanceof z.ZodEffects) {
      s = s.innerType() as z.ZodTypeAny;
    } else if (s instanceof z.ZodReadonly) {
      s = (s._def as { innerType: z.ZodTypeAny }).innerType;
    } else {
      return s;
    }
  }
}

/** The default of a schema, or undefined when it has none. */
export function defaultOf(s: z.ZodTypeAny): unknown {
  for (;;) {
    if (s instanceof z.ZodDefault) return (s._def as { defaultValue: () => unknown }).defaultValue();
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s._def.innerType as z.ZodTypeAny;
    else if (s instanceof z.ZodEffects) s = s.innerType() as z.ZodTypeAny;
    else return undefined;
  }
}

/** "positive integer" → "positive integers": the first noun made plural. */
const plural = (t: string): string => t.replace(/(integer|number|string|value)\b/, '$1s');

const fmtNum = (v: number): string => (Number.isFinite(v) ? String(v) : v > 0 ? '∞' : '−∞');

function describeNumber(s: z.ZodNumber): string {
  let lo: { value: number; inclusive: boolean } | null = null;
  let hi: { value: number; inclusive: boolean } | null = null;
  for (const c of s._def.checks) {
    if (c.kind === 'min') lo = c;
    if (c.kind === 'max') hi = c;
  }
  const int = s.isInt;
  if (int && lo && !hi && lo.value === (lo.inclusive ? 1 : 0)) return 'a positive integer';
  const noun = int ? 'an integer' : 'a number';
  if (lo && hi) return `${noun} in ${lo.inclusive ? '[' : '('}${lo.value}, ${hi.value}${hi.inclusive ? ']' : ')'}`;
  if (lo) return `${noun} ${lo.inclusive ? '≥' : '>'} ${lo.value}`;
  if (hi) return `${noun} ${hi.inclusive ? '≤' : '<'} ${hi.value}`;
  return noun;
}

/** What a schema allows, in words: "a number in [0, 1]", "one of 'a', 'b'", "true or false". */
export function describeSchema(schema: z.ZodTypeAny): string {
  const s = unwrap(schema);
  if (s instanceof z.ZodNumber) return describeNumber(s);
  if (s instanceof z.ZodBoolean) return 'true or false';
  if (s instanceof z.ZodString) return 'a string';
  if (s instanceof z.ZodEnum) return `one of ${(s.options as string[]).map((o) => `'${o}'`).join(', ')}`;
  if (s instanceof z.ZodLiteral) return JSON.stringify(s.value);
  if (s instanceof z.ZodArray) {
    const min = (s._def as { minLength: { value: number } | null }).minLength?.value ?? 0;
    const elem = describeSchema(s.element as z.ZodTypeAny).replace(/^an? /, '');
    return `a list of ${min > 0 ? `at least ${min} ` : ''}${plural(elem)}`;
  }
  if (s instanceof z.ZodTuple) {
    const items = (s.items as z.ZodTypeAny[]).map((i) => describeSchema(i).replace(/^an? /, ''));
    if (items.every((i) => i === items[0])) return `a list of ${items.length} ${plural(items[0] ?? 'value')}`;
    return `[${items.join(', ')}]`;
  }
  if (s instanceof z.ZodUnion) return (s.options as z.ZodTypeAny[]).map(describeSchema).join(', or ');
  if (s instanceof z.ZodObject) return 'an object';
  if (s instanceof z.ZodRecord) return 'an object';
  return 'a valid value';
}

/**
 * The schema of the field at `path` inside `schema` (`value` picks the branch of a union),
 * where it can be told.
 */
export function schemaAt(
  schema: z.ZodTypeAny,
  path: readonly (string | number)[],
  value?: unknown,
): z.ZodTypeAny | undefined {
  const u = unwrap(schema);
  if (u instanceof z.ZodDiscriminatedUnion) {
    const branch = (u.optionsMap as Map<unknown, z.ZodTypeAny>).get(valueAt(value, [u.discriminator as string]));
    return branch ? schemaAt(branch, path, value) : path.length ? undefined : schema;
  }
  if (!path.length) return schema;
  const [key, ...rest] = path;
  const inner = valueAt(value, [key]);
  if (u instanceof z.ZodObject) {
    const field = (u.shape as Partial<Record<string, z.ZodTypeAny>>)[String(key)]; // undefined: no such field
    return field && schemaAt(field, rest, inner);
  }
  if (u instanceof z.ZodArray) return schemaAt(u.element as z.ZodTypeAny, rest, inner);
  if (u instanceof z.ZodTuple) {
    const item = (u.items as (z.ZodTypeAny | undefined)[])[Number(key)]; // undefined: past the tuple's end
    return item && schemaAt(item, rest, inner);
  }
  if (u instanceof z.ZodRecord) return schemaAt(u.valueSchema as z.ZodTypeAny, rest, inner);
  if (u instanceof z.ZodUnion) {
    for (const option of u.options as z.ZodTypeAny[]) {
      const found = schemaAt(option, path, value);
      if (found) return found;
    }
  }
  return undefined;
}

function valueAt(value: unknown, path: readonly (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[String(key)];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number') return fmtNum(v);
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One problem found by a schema: where (dotted path inside the checked value) and what. */
export interface OptionProblem {
  path: string;
  /** What is wrong, without the field's name: "must be a number in [0, 1], got 2". */
  problem: string;
  /** Whether `problem` already names what it is about (unknown keys), so no field name goes before it. */
  standalone: boolean;
}

/**
 * The problems of `value` against `schema`, each in words that say what is allowed and
 * what was given. `noun` names a field in messages ('option' for option sets, 'field' for files).
 */
export function problemsOf(schema: z.ZodTypeAny, value: unknown, noun = 'option'): OptionProblem[] {
  const r = schema.safeParse(value);
  if (r.success) return [];
  return r.error.issues.map((i): OptionProblem => {
    const path = i.path.join('.');
    const got = valueAt(value, i.path);
    if (i.code === 'unrecognized_keys') {
      const owner = unwrap(schemaAt(schema, i.path, value) ?? schema);
      const known = owner instanceof z.ZodObject ? Object.keys(owner.shape as Record<string, z.ZodTypeAny>) : [];
      const names = i.keys.map((k) => `'${k}'`).join(', ');
      const hint = i.keys.length === 1 ? didYouMean(i.keys[0], known) : '';
      const where = path ? ` in '${path}'` : '';
      const s = i.keys.length > 1 ? 's' : '';
      const problem =
        `unknown ${noun}${s} ${names}${where} (${noun}s: ${known.join(', ') || 'none'})` + (hint && `.${hint}`);
      return { path, problem, standalone: true };
    }
    if (i.code === 'invalid_union_discriminator' || i.code === 'invalid_enum_value') {
      const options = i.options.map(String);
      const hint = typeof got === 'string' ? didYouMean(got, options) : '';
      const list = options.map((o) => `'${o}'`).join(', ');
      const given = got === undefined ? 'missing; must be' : 'must be';
      const problem = `${given} one of ${list}${got === undefined ? '' : `, got ${show(got)}`}${hint && `.${hint}`}`;
      return { path, problem, standalone: false };
    }
    const field = schemaAt(schema, i.path, value);
    if (i.code === 'custom' || field === undefined) return { path, problem: i.message, standalone: false };
    // A string pattern's own message says what is allowed ("must be 'cpu', 'cuda' or 'cuda:N'").
    if (i.code === 'invalid_string') return { path, problem: `${i.message}, got ${show(got)}`, standalone: false };
    if (got === undefined) return { path, problem: `missing; must be ${describeSchema(field)}`, standalone: false };
    return { path, problem: `must be ${describeSchema(field)}, got ${show(got)}`, standalone: false };
  });
}

/** "option 'beta' must be ..." for one problem of an option set. */
export function problemText(p: OptionProblem, noun = 'option'): string {
  return p.standalone || !p.path ? p.problem : `${noun} '${p.path}' ${p.problem}`;
}

/**
 * Checks `given` against an option set's schema and returns the options with defaults
 * filled in, frozen. `owner` names the set in messages ("loss 'combo'").
 * Throws a ComboSegError (code 'invalid-option') naming each bad option.
 */
export function parseOptions<S extends z.ZodTypeAny>(schema: S, given: unknown, owner: string): Readonly<z.output<S>> {
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) {
    throw new ComboSegError(`${owner}: options must be an object, got ${show(given)}`, { code: 'invalid-option' });
  }
  const r = schema.safeParse(given ?? {});
  if (!r.success) {
    const problems = problemsOf(schema, given ?? {});
    throw new ComboSegError(`${owner}: ${problems.map((p) => problemText(p)).join('; ')}`, {
      code: 'invalid-option',
      path: problems[0]?.path,
    });
  }
  return Object.freeze(r.data as z.output<S>);
}

/**
 * Command-line flags checked by the schema of what they set: `given` holds the values by field name,
 * `flags` the flag of each field. Returns the parsed values; throws one ComboSegError naming every bad
 * flag ("--sw-batch must be an integer in [1, 1024], got -5").
 */
export function checkFlags<S extends z.ZodTypeAny>(
  schema: S,
  given: Record<string, unknown>,
  flags: Readonly<Record<string, string>>,
): z.output<S> {
  const problems = problemsOf(schema, given);
  if (problems.length) {
    const flagOf = (p: OptionProblem): string => flags[p.path.split('.')[0]] ?? p.path;
    throw new ComboSegError(problems.map((p) => `${flagOf(p)} ${p.problem}`).join('; '), {
      code: 'invalid-option',
      path: flagOf(problems[0]),
    });
  }
  return schema.parse(given) as z.output<S>;
}

/**
 * Adds the problems of `value` against `schema` to a zod refinement context, under `at`:
 * how a configuration checks a nested option set with the set's own schema.
 */
export function addProblems(ctx: z.RefinementCtx, schema: z.ZodTypeAny, value: unknown, at: (string | number)[]): void {
  for (const p of problemsOf(schema, value)) {
    const path = [...at, ...(p.path ? p.path.split('.') : [])];
    ctx.addIssue({ code: 'custom', path, message: p.problem });
  }
}

/** The problems of a whole configuration, one line each: "  loss.options.beta: must be ...". */
export function configProblems(schema: z.ZodTypeAny, value: unknown): string[] {
  return problemsOf(schema, value, 'field').map((p) => `  ${p.path || '(top level)'}: ${p.problem}`);
}

/** One row of an option table. */
export interface OptionRow {
  name: string;
  allowed: string;
  default: string;
  description: string;
}

/** The options of an object schema, as documentation rows (name, allowed values, default, description). */
export function optionRows(schema: z.ZodTypeAny, skip: readonly string[] = []): OptionRow[] {
  const object = unwrap(schema);
  if (!(object instanceof z.ZodObject)) throw new TypeError('optionRows: the schema is not an object schema');
  const shape = object.shape as Record<string, z.ZodTypeAny>;
  return Object.entries(shape)
    .filter(([name]) => !skip.includes(name))
    .map(([name, s]) => {
      const d = defaultOf(s);
      return {
        name,
        allowed: describeSchema(s),
        default: d === undefined ? '—' : JSON.stringify(d).replace(/,/g, ', '),
        description: s.description ?? '',
      };
    });
}

/** A markdown table of an object schema's options. */
export function optionsTable(schema: z.ZodTypeAny, skip: readonly string[] = []): string {
  const esc = (t: string): string => t.replace(/\|/g, '\\|');
  const rows = optionRows(schema, skip).map(
    (r) => `| \`${r.name}\` | ${esc(r.allowed)} | \`${esc(r.default)}\` | ${esc(r.description)} |`,
  );
  return ['| option | allowed | default | what |', '|---|---|---|---|', ...rows].join('\n');
}
