// urql: queries and the decision over HTTP, the subscription over GraphQL over SSE (graphql-sse),
// which passes proxies that block WebSockets.
import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient } from "graphql-sse";
import { onEnd, pipe, subscribe } from "wonka";
import type { GatewayClient } from "./client.js";
import {
  ApproveDocument,
  ExecutionChangedDocument,
  FeedDocument,
  InboxDocument,
} from "./gql/graphql.js";

export function connect(url: string, apiKey?: string): GatewayClient {
  const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  const sse = createClient({ url: `${url}/graphql`, headers });
  const client = new Client({
    url: `${url}/graphql`,
    fetchOptions: { headers },
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: sse.subscribe({ ...request, query: request.query ?? "" }, sink),
          }),
        }),
      }),
    ],
  });

  return {
    async inbox(first) {
      const result = await client
        .query(InboxDocument, { first }, { requestPolicy: "network-only" })
        .toPromise();
      if (result.error) throw result.error;
      return result.data!.pendingApprovals;
    },
    async feed(first, after = null) {
      const result = await client.query(FeedDocument, { first, after }).toPromise();
      if (result.error) throw result.error;
      return result.data!.executionFeed;
    },
    async approve(approvalId, notes) {
      const result = await client.mutation(ApproveDocument, { approvalId, notes }).toPromise();
      if (result.error) throw result.error;
      return result.data!.approve;
    },
    executionChanged(id, sink) {
      const { unsubscribe } = pipe(
        client.subscription(ExecutionChangedDocument, { id }),
        onEnd(() => sink.complete()),
        subscribe((result) => {
          if (result.error) sink.error(result.error);
          // When the stream ends urql repeats its last event, marked hasNext: false.
          else if (result.hasNext) sink.next(result.data!.executionChanged);
        }),
      );
      return unsubscribe;
    },
    close() {
      sse.dispose();
    },
  };
}
