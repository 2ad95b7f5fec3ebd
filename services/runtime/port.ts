import { createServer } from "node:net";
import { AppError } from "../shared/errors.ts";

/**
 * Fails with a message that names the setting when `port` is taken, before anything slow starts
 * (port 0 asks for any free port and always passes).
 */
export async function assertPortFree(host: string, port: number, setting: string, alternative = ""): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (cause: NodeJS.ErrnoException) =>
      reject(
        new AppError(
          "CONFIG_INVALID",
          cause.code === "EADDRINUSE"
            ? `${setting} ${port} is already in use (is the service already running?): set ${setting} to a free port${alternative ? `, ${alternative}` : ""}`
            : `cannot listen on ${host}:${port} (${setting}): ${cause.message}`,
          { cause },
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
