import { controlCharacterIn } from "../text/inert.js";

/**
 * Why a command from a model, a server or the daemon cannot be put before the user, or null.
 * A NUL or another control character makes what a shell runs differ from what is rated and shown
 * (bash's `$(…)` drops a NUL, so `rm -rf ~\0` becomes `rm -rf ~`); an over-long answer is a
 * runaway or hostile backend, whatever the schema asked of it.
 */
export function commandProblem(command: string, maxLength: number): string | null {
  if (command === "") return "the command is empty";
  const control = controlCharacterIn(command);
  if (control) return `the command holds a control character (${control})`;
  const length = [...command].length;
  if (length > maxLength) return `the command is ${length} characters long, over max_command_length = ${maxLength}`;
  return null;
}
