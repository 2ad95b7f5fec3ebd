import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";

/**
 * A page (or a costly part of one, `what` names it) whose code is downloaded the first time it is shown;
 * a failed download says what to do.
 */
export function lazyPage<P extends object>(
  load: () => Promise<ComponentType<P>>,
  what = "This page",
): ComponentType<P> {
  let loaded: ComponentType<P> | undefined;
  return function LazyPage(props: P) {
    const [Page, setPage] = useState<ComponentType<P> | undefined>(() => loaded);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
      if (Page) return;
      load().then(
        (component) => {
          loaded = component;
          setPage(() => component);
        },
        () => setFailed(true),
      );
    }, [Page]);
    if (failed) {
      return (
        <p class="problem" role="alert">
          {what} could not be downloaded: check that the service is running, then reload the page.
        </p>
      );
    }
    return Page ? <Page {...props} /> : <p aria-busy="true">Loading…</p>;
  };
}
