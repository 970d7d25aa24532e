// Apollo Client with its persisted-query link against the gateway, over a fetch that revalidates
// with ETags as a browser's HTTP cache does. Prints one JSON document: what each query returned
// and every HTTP exchange (method, whether the document text was sent, status, ETag sent back).
//   node apq.mjs <gateway url> <execution id> [authorization header]
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, id, authorization] = process.argv.slice(2);
const exchanges = [];
const browserCache = new Map(); // url -> {etag, body, headers}

async function revalidatingFetch(input, init = {}) {
  const method = (init.method || "GET").toUpperCase();
  const target = String(input);
  const headers = new Headers(init.headers || {});
  if (authorization) headers.set("authorization", authorization);
  const kept = method === "GET" ? browserCache.get(target) : undefined;
  if (kept) headers.set("if-none-match", kept.etag);
  const response = await fetch(target, { ...init, headers });
  const sentText = method === "GET" ? new URL(target).searchParams.has("query") : JSON.parse(init.body).query !== undefined;
  exchanges.push({ method, sentText, status: response.status, ifNoneMatch: kept ? kept.etag : null });
  if (response.status === 304 && kept) {
    return new Response(kept.body, { status: 200, headers: kept.headers });
  }
  const body = await response.text();
  const etag = response.headers.get("etag");
  if (method === "GET" && etag && response.status === 200) {
    browserCache.set(target, { etag, body, headers: response.headers });
  }
  return new Response(body, { status: response.status, headers: response.headers });
}

const link = new PersistedQueryLink({
  sha256: (text) => createHash("sha256").update(text).digest("hex"),
  useGETForHashedQueries: true,
}).concat(new HttpLink({ uri: `${url}/graphql`, fetch: revalidatingFetch }));
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const query = gql`
  query Finished($id: ID!) {
    execution(id: $id) { id status steps { kind status } }
  }
`;
const results = [];
for (let round = 0; round < 3; round++) {
  const { data, error } = await client.query({ query, variables: { id }, fetchPolicy: "network-only" });
  results.push({ data: data ?? null, error: error ? String(error) : null });
}
console.log(JSON.stringify({ results, exchanges }));
