// Compares two GraphQL SDL files with GraphQL Inspector and prints every change as JSON lines:
//   node diff.mjs OLD.graphql NEW.graphql
// Each line: {"level": "BREAKING" | "DANGEROUS" | "NON_BREAKING", "type", "path", "message"}.
// Judging the changes (which breaking ones are declared) is tests/ops/schema_guard.py's job.
import { readFileSync } from "node:fs";
import { diff } from "@graphql-inspector/core";
import { buildSchema } from "graphql";

const [oldPath, newPath] = process.argv.slice(2);
if (!oldPath || !newPath) {
  console.error("usage: node diff.mjs OLD.graphql NEW.graphql");
  process.exit(2);
}
const load = (path) => buildSchema(readFileSync(path, "utf8"));
const changes = await diff(load(oldPath), load(newPath));
for (const change of changes) {
  const { level } = change.criticality;
  console.log(JSON.stringify({ level, type: change.type, path: change.path ?? "", message: change.message }));
}
