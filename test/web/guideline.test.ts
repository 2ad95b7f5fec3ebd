import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256, toUtf8Bytes } from "ethers";
import t from "tap";
import { checkGuideline } from "../../services/web/src/pages/policies/guideline.ts";

const DOCUMENT = "# Guideline\n\nEducation only.\n";
const HASH = keccak256(toUtf8Bytes(DOCUMENT));

t.test("the Policies page's guideline check: matches, differs, or says why it cannot check", async (t) => {
  const server = createServer((request, response) => {
    if (request.url === "/missing") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "text/markdown" });
    response.end(request.url === "/changed" ? `${DOCUMENT}And medical.\n` : DOCUMENT);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  t.same(await checkGuideline(`${base}/guideline.md`, HASH), { kind: "match" });
  t.same(await checkGuideline(`${base}/guideline.md`, HASH.toUpperCase().replace("0X", "0x")), { kind: "match" });
  const changed = await checkGuideline(`${base}/changed`, HASH);
  t.equal(changed.kind, "differs");
  t.equal(changed.kind === "differs" && changed.actual, keccak256(toUtf8Bytes(`${DOCUMENT}And medical.\n`)));
  t.same(await checkGuideline(`${base}/missing`, HASH), {
    kind: "unchecked",
    why: "the document's server answered 404",
  });
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  t.match(await checkGuideline(`http://127.0.0.1:${closedPort}/g`, HASH), {
    kind: "unchecked",
    why: /could not be fetched/,
  });
  t.same(await checkGuideline("ipfs://guidelines/commons-dev-1", HASH), {
    kind: "unchecked",
    why: "the browser cannot fetch ipfs: addresses",
  });
});
