// The TypeScript types of the editor protocol.
//
// In: editor-extensions/protocol/socratic-protocol.schema.json (generated from the server's Rust
// types, daemon/src/lsp/protocol.rs). Out: the text of src/protocol.ts, made with
// json-schema-to-typescript; `node scripts/protocol-types.js` (`npm run protocol`) writes it, and
// test/protocol-types.test.ts fails while the file is not what the schema generates.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { compile } = require("json-schema-to-typescript");

const schemaPath = path.resolve(__dirname, "../../protocol/socratic-protocol.schema.json");
const typesPath = path.resolve(__dirname, "../src/protocol.ts");

const BANNER = `/**
 * The socratic editor protocol's types, generated from
 * editor-extensions/protocol/socratic-protocol.schema.json by \`npm run protocol\`; do not edit.
 * (The schema itself is generated from daemon/src/lsp/protocol.rs.)
 */`;

/** The text src/protocol.ts should hold for the schema file as it is. */
function generateTypes() {
  const schema = JSON.parse(fs.readFileSync(schemaPath, "utf8"));
  return compile(schema, "SocraticProtocol", {
    additionalProperties: false,
    unreachableDefinitions: true,
    bannerComment: BANNER,
    style: { printWidth: 120 },
  });
}

module.exports = { schemaPath, typesPath, generateTypes };

if (require.main === module) {
  generateTypes().then(
    (text) => {
      fs.writeFileSync(typesPath, text);
      console.log(`wrote ${path.relative(process.cwd(), typesPath)}`);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
