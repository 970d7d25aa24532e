// Apollo Client 4: queries and the decision over HTTP, the subscription over graphql-ws.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";
import WebSocket from "ws"; // node only: a browser has its own WebSocket
import type { GatewayClient } from "./client.js";
import {
  ApproveDocument,
  ExecutionChangedDocument,
  FeedDocument,
  InboxDocument,
} from "./gql/graphql.js";

export function connect(url: string, apiKey?: string): GatewayClient {
  const authorization = apiKey ? `Bearer ${apiKey}` : undefined;
  const http = new HttpLink({
    uri: `${url}/graphql`,
    headers: authorization ? { authorization } : {},
  });
  const ws = createClient({
    url: `${url.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { Authorization: authorization } : {}, // the key, on a socket
  });
  const isSubscription = ({ query }: ApolloLink.Operation) => {
    const definition = getMainDefinition(query);
    return definition.kind === "OperationDefinition" && definition.operation === "subscription";
  };
  const client = new ApolloClient({
    link: ApolloLink.split(isSubscription, new GraphQLWsLink(ws), http),
    cache: new InMemoryCache({
      // DecisionResult's members that implement DecisionError (schema.graphql).
      possibleTypes: {
        DecisionError: [
          "ApprovalNotFound",
          "ApprovalNotWaiting",
          "DecisionUnsupported",
          "DecisionForbidden",
          "DecisionInputInvalid",
          "UpstreamFailure",
        ],
      },
    }),
  });

  return {
    async inbox(first) {
      const { data } = await client.query({
        query: InboxDocument,
        variables: { first },
        fetchPolicy: "network-only",
      });
      return data!.pendingApprovals;
    },
    async feed(first, after = null) {
      const { data } = await client.query({ query: FeedDocument, variables: { first, after } });
      return data!.executionFeed;
    },
    async approve(approvalId, notes) {
      const { data } = await client.mutate({ mutation: ApproveDocument, variables: { approvalId, notes } });
      return data!.approve;
    },
    executionChanged(id, sink) {
      const subscription = client
        .subscribe({ query: ExecutionChangedDocument, variables: { id } })
        .subscribe({
          next: ({ data, error }) => (error ? sink.error(error) : sink.next(data!.executionChanged)),
          error: sink.error,
          complete: sink.complete,
        });
      return () => subscription.unsubscribe();
    },
    close() {
      client.stop();
      void ws.dispose();
    },
  };
}
