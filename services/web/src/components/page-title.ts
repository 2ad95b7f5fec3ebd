import { useEffect } from "preact/hooks";

/** The document title follows the page, so history and tabs name it. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · AI Commons`;
  }, [title]);
}
