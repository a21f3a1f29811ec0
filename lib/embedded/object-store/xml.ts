import { S3Error } from './errors';

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

function xmlEscape(value: string): string {
  // eslint-disable-next-line no-control-regex -- the control characters are matched on purpose, to be written as character references.
  return value.replace(/[&<>"'\r\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&apos;';
      default: return `&#x${c.charCodeAt(0).toString(16)};`;
    }
  });
}

/** One element with escaped text content. */
export function el(name: string, value: string | number | boolean): string {
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

export function xmlDocument(root: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NS}">${inner}</${root}>`;
}

function xmlUnescape(value: string): string {
  return value.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, ent: string) => {
    switch (ent) {
      case 'amp': return '&';
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': return "'";
      default: {
        const cp = ent[1] === 'x' || ent[1] === 'X' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
        if (!Number.isFinite(cp) || cp > 0x10ffff) throw new S3Error(400, 'MalformedXML', 'Invalid character reference in XML.');
        return String.fromCodePoint(cp);
      }
    }
  });
}

/**
 * The request bodies we accept (Delete, CompleteMultipartUpload) are flat lists of small elements,
 * so a tag scanner is enough; a general XML parser would be a dependency for no gain.
 */
export function xmlElements(xml: string, tag: string): string[] {
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}\\s*>)`, 'g');
  const out: string[] = [];
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(m[1] ?? '');
  return out;
}

/** The unescaped text of the first `tag` element, or undefined if there is none. */
export function xmlText(xml: string, tag: string): string | undefined {
  const [raw] = xmlElements(xml, tag);
  if (raw === undefined) return undefined;
  const cdata = /^<!\[CDATA\[([\s\S]*)\]\]>$/.exec(raw);
  return cdata ? cdata[1] : xmlUnescape(raw);
}

const OWNER_ID = '6c6f63616c2d6f626a6563742d73746f72652d6f776e65722d30303030303030';
const OWNER_NAME = 'local';
/** The single owner every bucket and object is reported to have. */
export const OWNER_XML = `<Owner>${el('ID', OWNER_ID)}${el('DisplayName', OWNER_NAME)}</Owner>`;

/** An element of a parsed request document: its local name, child elements and unescaped text. */
export interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

/**
 * Parses a request document whose structure matters (a lifecycle configuration nests Filter, And and
 * Tag), refusing anything that is not well-formed with S3's MalformedXML. Namespaces are dropped from
 * names; attributes, comments and the prolog are skipped.
 */
export function parseXmlDocument(xml: string): XmlNode {
  const malformed = () => new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[([\s\S]*?)\]\]>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    const [whole, cdata, closing, rawName, , selfClosing, text, stray] = m;
    if (stray !== undefined) throw malformed();
    const top = stack[stack.length - 1];
    if (text !== undefined || cdata !== undefined) {
      const value = cdata ?? xmlUnescape(text!); // one of the two matched
      if (top) top.text += value;
      else if (value.trim() !== '') throw malformed();
      continue;
    }
    if (rawName === undefined) continue; // comment or processing instruction
    const name = rawName.includes(':') ? rawName.slice(rawName.indexOf(':') + 1) : rawName;
    if (closing) {
      if (!top || top.name !== name || whole.endsWith('/>')) throw malformed();
      stack.pop();
      continue;
    }
    const node: XmlNode = { name, children: [], text: '' };
    if (top) top.children.push(node);
    else if (root) throw malformed();
    else root = node;
    if (!selfClosing) stack.push(node);
  }
  if (!root || stack.length > 0) throw malformed();
  return root;
}
