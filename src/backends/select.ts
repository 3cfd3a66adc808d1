import type { Settings } from "../config/schema.js";
import { EmbeddedBackend } from "./embedded.js";
import type { Backend } from "./types.js";

/** The backend that `backend` names; auto means the first that can serve. */
export function selectBackend(settings: Settings, verbose: boolean): Backend {
  switch (settings.backend) {
    case "auto":
    case "embedded":
      return new EmbeddedBackend(settings, verbose);
  }
}
