// Hive Gateway's configuration for the test supergraph: the caller's Authorization header goes to
// every subgraph, so the execution gateway applies that caller's roles, scope and limits to the
// router's `_entities` calls as it does to its own clients' queries.
import { defineConfig } from "@graphql-hive/gateway";

export const gatewayConfig = defineConfig({
  logging: "warn",
  landingPage: false,
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const authorization = request.headers.get("authorization");
      return authorization ? { authorization } : {};
    },
  },
});
