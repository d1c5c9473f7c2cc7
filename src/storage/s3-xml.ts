/**
 * Reading the two XML documents the lean S3 requests get back (see s3-lean.ts): a page of
 * ListObjectsV2, and an error. Both are flat, machine-written documents of a known shape, so
 * the few elements wanted are found by position, without building a tree: the AWS SDK's general
 * parser and deserializer spend about 35 µs per listed key, this about 1 µs.
 */

/** One object of a listing page, as the server wrote it (the key is the bucket's full key). */
export interface ListedObject {
  key: string;
  size: number;
  modified: Date;
  /** As sent, quotes included: plainEtag() removes them. */
  etag: string;
}

export interface ListPage {
  objects: ListedObject[];
  isTruncated: boolean;
  /** The token for the next page, when the listing is truncated. */
  nextToken: string | undefined;
}

/** What an S3 error body says; any part may be missing (HEAD errors and proxies send none). */
export interface ErrorBody {
  code: string | undefined;
  message: string | undefined;
  /** The bucket's region, in a PermanentRedirect or AuthorizationHeaderMalformed error. */
  region: string | undefined;
}

/**
 * The objects, truncation flag and continuation token of a ListObjectsV2 answer. Keys are
 * decoded from XML (entities, character references, CDATA) exactly as an XML parser would.
 *
 * @example
 * parseListPage('<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b</Key>' +
 *   '<LastModified>2026-11-28T10:00:00.000Z</LastModified><ETag>&quot;9b2c&quot;</ETag><Size>3</Size></Contents></ListBucketResult>');
 * // { objects: [{ key: "a&b", size: 3, modified: new Date("2026-11-28T10:00:00.000Z"), etag: '"9b2c"' }], isTruncated: false, nextToken: undefined }
 */
export function parseListPage(xml: string): ListPage {
  const root = xml.indexOf("<ListBucketResult");
  if (root < 0) throw new Error(`not a ListObjectsV2 answer: ${xml.slice(0, 200)}`);
  const objects: ListedObject[] = [];
  let position = root;
  // Elements outside <Contents> (IsTruncated, NextContinuationToken) come before or after them
  // depending on the server: collect them from the text between the blocks.
  let outside = "";
  for (;;) {
    const start = xml.indexOf("<Contents>", position);
    if (start < 0) break;
    const end = xml.indexOf("</Contents>", start);
    if (end < 0) throw new Error("a ListObjectsV2 answer cut off inside <Contents>");
    outside += xml.slice(position, start);
    const block = xml.slice(start + 10, end);
    const key = element(block, "Key");
    if (key !== undefined) {
      objects.push({
        key,
        size: Number(element(block, "Size") ?? 0),
        modified: new Date((element(block, "LastModified") ?? "").trim() || 0),
        etag: element(block, "ETag") ?? "",
      });
    }
    position = end + 11;
  }
  outside += xml.slice(position);
  return {
    objects,
    isTruncated: element(outside, "IsTruncated")?.trim() === "true",
    nextToken: element(outside, "NextContinuationToken"),
  };
}

/**
 * The code, message and region of an S3 error answer, or all undefined when the body is not one.
 *
 * @example
 * parseErrorBody("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>");
 * // { code: "NoSuchKey", message: "The specified key does not exist.", region: undefined }
 */
export function parseErrorBody(xml: string): ErrorBody {
  const at = xml.indexOf("<Error>");
  if (at < 0) return { code: undefined, message: undefined, region: undefined };
  const body = xml.slice(at);
  return { code: element(body, "Code")?.trim() || undefined, message: element(body, "Message"), region: element(body, "Region")?.trim() || undefined };
}

/** The decoded text of the first `<name>…</name>` in `text` (undefined when absent; "" for `<name/>`). */
function element(text: string, name: string): string | undefined {
  const open = `<${name}>`;
  const start = text.indexOf(open);
  if (start < 0) return text.includes(`<${name}/>`) ? "" : undefined;
  const end = text.indexOf(`</${name}>`, start);
  if (end < 0) return undefined;
  return decodeXmlText(text.slice(start + open.length, end));
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * XML character data as a parser reports it: line ends normalized (XML 1.0 §2.11), CDATA
 * sections taken literally, entity and character references replaced.
 *
 * @example
 * decodeXmlText("odd/plus+percent%20amp&amp;eq=&#x65E5;"); // "odd/plus+percent%20amp&eq=日"
 */
export function decodeXmlText(raw: string): string {
  if (raw.includes("\r")) raw = raw.replace(/\r\n?/g, "\n");
  if (raw.includes("<![CDATA[")) {
    return raw
      .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
      .map((part) => (part.startsWith("<![CDATA[") ? part.slice(9, -3) : decodeReferences(part)))
      .join("");
  }
  return decodeReferences(raw);
}

function decodeReferences(text: string): string {
  const first = text.indexOf("&");
  if (first < 0) return text;
  // Every ETag of a listing is "&quot;<hex>&quot;": spare it the regular expression.
  if (first === 0 && text.startsWith("&quot;") && text.indexOf("&", 6) === text.length - 6 && text.endsWith("&quot;")) return `"${text.slice(6, -6)}"`;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, name: string) => {
    if (name.startsWith("#x")) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name] ?? whole;
  });
}
