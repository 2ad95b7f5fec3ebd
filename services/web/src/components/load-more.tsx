/** The next page of a list read with useInfiniteQuery; nothing once the list is complete. */
export function LoadMore({
  pages,
}: {
  pages: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage(): unknown };
}) {
  if (!pages.hasNextPage) return null;
  return (
    <button type="button" class="secondary" disabled={pages.isFetchingNextPage} onClick={() => pages.fetchNextPage()}>
      Load more
    </button>
  );
}

/** The cursor of the page after `connection`, as useInfiniteQuery's getNextPageParam wants it. */
export function nextCursor(connection: { pageInfo: { hasNextPage: boolean; endCursor: string | null } }) {
  return connection.pageInfo.hasNextPage ? (connection.pageInfo.endCursor ?? undefined) : undefined;
}
