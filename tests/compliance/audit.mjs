// Runs graphql-http's GraphQL-over-HTTP server audits against the URL given as the first argument
// and prints one JSON array: [{id, name, status, reason?, httpStatus?}]. Exit status 2 on misuse.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}

const results = await auditServer({ url });
const summary = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.httpStatus = result.response.status;
  }
  summary.push(entry);
}
process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
