import { useState } from "preact/hooks";

/**
 * A value kept in this tab's sessionStorage only (an API key, the operator token): gone when the tab
 * closes, never sent anywhere but this service.
 */
export function useSessionValue<T>(key: string): [T | undefined, (value: T | undefined) => void] {
  const [value, setValue] = useState<T | undefined>(() => {
    const stored = sessionStorage.getItem(key);
    return stored === null ? undefined : (JSON.parse(stored) as T);
  });
  const set = (next: T | undefined) => {
    if (next === undefined) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, JSON.stringify(next));
    setValue(next);
  };
  return [value, set];
}
