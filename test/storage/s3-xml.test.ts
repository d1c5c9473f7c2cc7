/** The lean S3 path's reading of ListObjectsV2 pages and error bodies (src/storage/s3-xml.ts). */
import { describe, expect, test } from "vitest";
import { parseErrorBody, parseListPage } from "../../src/storage/s3-xml.js";

const page = (contents: string, tail = "<IsTruncated>false</IsTruncated>") =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>models</Name><Prefix>a/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>${tail}${contents}</ListBucketResult>`;
const item = (key: string, size = 3, etag = "&quot;9b2cf535f27731c974343645a3985328&quot;") =>
  `<Contents><Key>${key}</Key><LastModified>2026-11-28T10:00:00.123Z</LastModified><ETag>${etag}</ETag><Size>${size}</Size><Owner><ID>bench</ID><DisplayName>bench</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;

describe("ListObjectsV2 pages", () => {
  test("keys, sizes, times and etags, with XML escapes decoded as a parser would", () => {
    const parsed = parseListPage(page(item("a/x&amp;y &lt;z&gt; &quot;q&quot; &apos;s&apos;", 12) + item("a/&#26085;&#x672C;+~%20", 0) + item("a/<![CDATA[raw & <kept>]]>")));
    expect(parsed.isTruncated).toBe(false);
    expect(parsed.nextToken).toBeUndefined();
    expect(parsed.objects).toEqual([
      { key: `a/x&y <z> "q" 's'`, size: 12, modified: new Date("2026-11-28T10:00:00.123Z"), etag: '"9b2cf535f27731c974343645a3985328"' },
      { key: "a/日本+~%20", size: 0, modified: new Date("2026-11-28T10:00:00.123Z"), etag: '"9b2cf535f27731c974343645a3985328"' },
      { key: "a/raw & <kept>", size: 3, modified: new Date("2026-11-28T10:00:00.123Z"), etag: '"9b2cf535f27731c974343645a3985328"' },
    ]);
  });

  test("etags: quoted, empty, weak, and with other escapes inside", () => {
    const etags = ["&quot;&quot;", "&quot;", "W/&quot;abc&quot;", "&quot;a&amp;b&quot;", "&quot;abc&quot;-2"];
    const parsed = parseListPage(page(etags.map((etag, i) => item(`a/${i}`, 1, etag)).join("")));
    expect(parsed.objects.map((o) => o.etag)).toEqual(['""', '"', 'W/"abc"', '"a&b"', '"abc"-2']);
  });

  test("a truncated page's continuation token, wherever the server puts it", () => {
    const token = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=";
    for (const xml of [
      page(item("a/1"), `<IsTruncated>true</IsTruncated><NextContinuationToken>${token}</NextContinuationToken>`),
      page(item("a/1"), "") .replace("</ListBucketResult>", `<IsTruncated>true</IsTruncated><NextContinuationToken>${token}</NextContinuationToken></ListBucketResult>`),
    ]) {
      const parsed = parseListPage(xml);
      expect(parsed.isTruncated).toBe(true);
      expect(parsed.nextToken).toBe(token);
      expect(parsed.objects.map((o) => o.key)).toEqual(["a/1"]);
    }
  });

  test("an empty page, and a document that is not a listing", () => {
    expect(parseListPage(page(""))).toEqual({ objects: [], isTruncated: false, nextToken: undefined });
    expect(() => parseListPage("<html>proxy error</html>")).toThrow(/not a ListObjectsV2 answer/);
  });
});

describe("error bodies", () => {
  test("code, message and region", () => {
    expect(parseErrorBody(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AuthorizationHeaderMalformed</Code><Message>the region &apos;us-east-1&apos; is wrong</Message><Region>eu-west-1</Region><RequestId>X</RequestId></Error>`)).toEqual({
      code: "AuthorizationHeaderMalformed",
      message: "the region 'us-east-1' is wrong",
      region: "eu-west-1",
    });
    expect(parseErrorBody("")).toEqual({ code: undefined, message: undefined, region: undefined });
  });
});
