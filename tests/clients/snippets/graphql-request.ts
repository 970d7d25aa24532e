// graphql-request: the smallest client, for scripts and servers; it has no subscriptions, so the
// live view is graphql-ws's own client.
import { print } from "graphql";
import { GraphQLClient } from "graphql-request";
import { createClient } from "graphql-ws";
import WebSocket from "ws"; // node only: a browser has its own WebSocket
import type { GatewayClient } from "./client.js";
import {
  ApproveDocument,
  ExecutionChangedDocument,
  type ExecutionChangedSubscription,
  FeedDocument,
  InboxDocument,
} from "./gql/graphql.js";

export function connect(url: string, apiKey?: string): GatewayClient {
  const authorization = apiKey ? `Bearer ${apiKey}` : undefined;
  const client = new GraphQLClient(`${url}/graphql`, {
    headers: authorization ? { authorization } : {},
  });
  const ws = createClient({
    url: `${url.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { Authorization: authorization } : {},
  });

  return {
    async inbox(first) {
      return (await client.request(InboxDocument, { first })).pendingApprovals;
    },
    async feed(first, after = null) {
      return (await client.request(FeedDocument, { first, after })).executionFeed;
    },
    async approve(approvalId, notes) {
      return (await client.request(ApproveDocument, { approvalId, notes })).approve;
    },
    executionChanged(id, sink) {
      return ws.subscribe<ExecutionChangedSubscription>(
        { query: print(ExecutionChangedDocument), variables: { id } },
        {
          next: ({ data, errors }) => (errors ? sink.error(errors) : sink.next(data!.executionChanged)),
          error: sink.error,
          complete: sink.complete,
        },
      );
    },
    close() {
      void ws.dispose();
    },
  };
}
