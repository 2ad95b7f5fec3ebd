import { useQuery } from "@tanstack/preact-query";
import { fetchDeployment } from "./api.ts";

export function useDeployment() {
  return useQuery({ queryKey: ["deployment"], queryFn: fetchDeployment, staleTime: Number.POSITIVE_INFINITY });
}
