// Text placed into HTML reports.
const HTML_ESCAPES = new Map([
  ['&', '&amp;'],
  ['<', '&lt;'],
  ['>', '&gt;'],
  ['"', '&quot;'],
]);

/** `s` with the characters HTML gives a meaning to (& < > ") escaped. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => HTML_ESCAPES.get(c) ?? c);
