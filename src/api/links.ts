/**
 * OpenAPI links: what a client does next with the media an answer holds (create → upload → get →
 * delete), each a route by its operationId with the media's id from the answer. Clients and
 * stateful fuzzers (schemathesis) follow them.
 */
export const mediaLinks = (...operationIds: string[]) =>
  Object.fromEntries(
    operationIds.map((operationId) => [
      operationId.charAt(0).toUpperCase() + operationId.slice(1),
      {
        operationId,
        parameters: { id: '$response.body#/data/id' },
        description: `${operationId} of the media in this answer`,
      },
    ]),
  );
