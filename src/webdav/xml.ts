// A small namespace-aware XML reader for WebDAV request bodies (PROPFIND, PROPPATCH, LOCK: small, read
// whole up to a cap by the caller) and the writer helpers for 207 Multi-Status answers.
// Invariants: every element carries its resolved namespace URI (never a prefix); a DOCTYPE is refused
// (no entity expansion, so no billion-laughs); text is entity-decoded; serialize() re-declares every
// namespace it uses, so a stored dead-property value is self-contained XML.

export interface XmlElement {
  ns: string;
  local: string;
  /** attributes keyed `{ns}local` (ns '' for unprefixed) */
  attrs: Map<string, string>;
  children: XmlNode[];
  /** xml:lang in scope, if any (kept with dead properties) */
  lang?: string;
}

export type XmlNode = XmlElement | string;

export class XmlError extends Error {}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (m, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'amp') return '&';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const cp = e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
    if (!Number.isFinite(cp) || cp > 0x10ffff) throw new XmlError(`bad character reference ${m}`);
    return String.fromCodePoint(cp);
  });
}

export function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;');
}

const NAME =
  /^[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*(?::[A-Za-z_\u00C0-\uFFFF][\w.\-\u00B7\u00C0-\uFFFF]*)?$/;

/** Parses a whole document; returns its root element. */
export function parseXml(text: string): XmlElement {
  let i = 0;
  const stack: { el: XmlElement; qname: string; scope: Map<string, string> }[] = [];
  let root: XmlElement | null = null;
  const baseScope = new Map<string, string>([['xml', XML_NS]]);
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (chunk.length > 0) {
      if (stack.length > 0) stack[stack.length - 1]!.el.children.push(decodeEntities(chunk));
      else if (chunk.trim() !== '') throw new XmlError('text outside the root element');
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<?', i)) {
      const e = text.indexOf('?>', i);
      if (e < 0) throw new XmlError('unterminated processing instruction');
      i = e + 2;
    } else if (text.startsWith('<!--', i)) {
      const e = text.indexOf('-->', i);
      if (e < 0) throw new XmlError('unterminated comment');
      i = e + 3;
    } else if (text.startsWith('<![CDATA[', i)) {
      const e = text.indexOf(']]>', i);
      if (e < 0 || stack.length === 0) throw new XmlError('bad CDATA section');
      stack[stack.length - 1]!.el.children.push(text.slice(i + 9, e));
      i = e + 3;
    } else if (text.startsWith('<!', i)) {
      throw new XmlError('DOCTYPE and declarations are not accepted');
    } else if (text.startsWith('</', i)) {
      const e = text.indexOf('>', i);
      if (e < 0) throw new XmlError('unterminated end tag');
      const qname = text.slice(i + 2, e).trim();
      const top = stack.pop();
      if (!top || top.qname !== qname) throw new XmlError(`mismatched end tag </${qname}>`);
      i = e + 1;
    } else {
      // start tag: find its end outside quoted attribute values
      let j = i + 1;
      let quote = '';
      for (; j < text.length; j++) {
        const c = text[j]!;
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      if (j >= text.length) throw new XmlError('unterminated start tag');
      let body = text.slice(i + 1, j);
      const selfClosing = body.endsWith('/');
      if (selfClosing) body = body.slice(0, -1);
      const m = /^([^\s/>]+)/.exec(body);
      if (!m || !NAME.test(m[1]!)) throw new XmlError('bad element name');
      const qname = m[1]!;
      const rawAttrs: [string, string][] = [];
      const attrRe = /\s+([^\s=]+)\s*=\s*("([^"]*)"|'([^']*)')/gy;
      attrRe.lastIndex = qname.length;
      let rest = qname.length;
      for (let a = attrRe.exec(body); a; a = attrRe.exec(body)) {
        rawAttrs.push([a[1]!, decodeEntities(a[3] ?? a[4] ?? '')]);
        rest = attrRe.lastIndex;
      }
      if (body.slice(rest).trim() !== '') throw new XmlError(`bad attributes in <${qname}>`);
      const parentScope = stack.length > 0 ? stack[stack.length - 1]!.scope : baseScope;
      const scope = new Map(parentScope);
      for (const [k, val] of rawAttrs) {
        if (k === 'xmlns') scope.set('', val);
        else if (k.startsWith('xmlns:')) {
          if (val === '') throw new XmlError(`empty namespace for prefix ${k.slice(6)}`);
          scope.set(k.slice(6), val);
        }
      }
      const resolve = (q: string, isAttr: boolean): [string, string] => {
        const c = q.indexOf(':');
        if (c < 0) return [isAttr ? '' : (scope.get('') ?? ''), q];
        const prefix = q.slice(0, c);
        const ns = scope.get(prefix);
        if (ns === undefined) throw new XmlError(`undeclared namespace prefix ${prefix}`);
        return [ns, q.slice(c + 1)];
      };
      const [ns, local] = resolve(qname, false);
      const attrs = new Map<string, string>();
      for (const [k, val] of rawAttrs) {
        if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
        const [ans, al] = resolve(k, true);
        attrs.set(`{${ans}}${al}`, val);
      }
      const parent = stack.length > 0 ? stack[stack.length - 1]!.el : null;
      const lang = attrs.get(`{${XML_NS}}lang`) ?? parent?.lang;
      const el: XmlElement = { ns, local, attrs, children: [], lang };
      if (parent) parent.children.push(el);
      else if (root) throw new XmlError('more than one root element');
      else root = el;
      if (!selfClosing) stack.push({ el, qname, scope });
      i = j + 1;
    }
  }
  if (stack.length > 0) throw new XmlError(`unclosed element <${stack[stack.length - 1]!.qname}>`);
  if (!root) throw new XmlError('no root element');
  return root;
}

export function elements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}

export function child(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  return elements(el).find((c) => c.ns === ns && c.local === local);
}

export function textOf(el: XmlElement): string {
  return el.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}

/** Self-contained XML of a node: every element declares the default namespace it is in. */
export function serialize(node: XmlNode, parentNs: string | null = null): string {
  if (typeof node === 'string') return escapeText(node);
  let prefixN = 0;
  const decl: string[] = [];
  if (node.ns !== parentNs) decl.push(` xmlns="${escapeAttr(node.ns)}"`);
  const attrs: string[] = [];
  for (const [k, v] of node.attrs) {
    const close = k.indexOf('}');
    const ans = k.slice(1, close);
    const al = k.slice(close + 1);
    if (ans === '') attrs.push(` ${al}="${escapeAttr(v)}"`);
    else if (ans === XML_NS) attrs.push(` xml:${al}="${escapeAttr(v)}"`);
    else {
      const p = `a${prefixN++}`;
      decl.push(` xmlns:${p}="${escapeAttr(ans)}"`);
      attrs.push(` ${p}:${al}="${escapeAttr(v)}"`);
    }
  }
  const inner = node.children.map((c) => serialize(c, node.ns)).join('');
  return `<${node.local}${decl.join('')}${attrs.join('')}>${inner}</${node.local}>`;
}

/** The inner content of an element as self-contained XML (a dead property's stored value). */
export function innerXml(el: XmlElement): string {
  return el.children.map((c) => serialize(c, null)).join('');
}
