// Composes a supergraph from subgraphs with the Guild's open-source composition
// (@theguild/federation-composition). Reads a JSON list of {name, url, sdl} on stdin (each sdl is
// what the subgraph's `_service { sdl }` answers), prints the supergraph SDL on stdout; on a
// composition error prints the errors on stderr and exits 1.
//   node compose.mjs < subgraphs.json > supergraph.graphql
import { readFileSync } from "node:fs";
import { parse } from "graphql";
import { composeServices, compositionHasErrors } from "@theguild/federation-composition";

const subgraphs = JSON.parse(readFileSync(0, "utf8"));
const result = composeServices(
  subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })),
);
if (compositionHasErrors(result)) {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
process.stdout.write(result.supergraphSdl);
