// What each snippet (apollo.ts, urql.ts, graphql-request.ts) gives the inbox, the feed, a decision
// and a live view: the same four calls, typed by the documents graphql-codegen generated.
import type {
  ApproveMutation,
  ExecutionChangedSubscription,
  FeedQuery,
  InboxQuery,
} from "./gql/graphql.js";

export interface Sink<T> {
  next(value: T): void;
  error(error: unknown): void;
  complete(): void;
}

export interface GatewayClient {
  inbox(first: number): Promise<InboxQuery["pendingApprovals"]>;
  feed(first: number, after?: string | null): Promise<FeedQuery["executionFeed"]>;
  approve(approvalId: string, notes?: string): Promise<ApproveMutation["approve"]>;
  /** The execution now, then each change until it finishes; returns the unsubscribe. */
  executionChanged(
    id: string,
    sink: Sink<ExecutionChangedSubscription["executionChanged"]>,
  ): () => void;
  close(): void;
}
