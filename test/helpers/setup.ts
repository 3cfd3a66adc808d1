import { afterEach } from "vitest";
import { stopDaemons } from "./caro.js";

// Requests start a background daemon per test home; none may outlive its test.
afterEach(async () => {
  await stopDaemons();
});
