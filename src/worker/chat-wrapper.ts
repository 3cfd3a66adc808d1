import { type ChatWrapper, type LlamaModel, resolveChatWrapper } from "node-llama-cpp";

/**
 * How a model's chat is written out as text: by the model's own chat template wherever it has one.
 *
 * node-llama-cpp's default ("auto") renders the template against every specialized wrapper it knows
 * to find one that writes the same text, which it prefers for function calling. caro calls no
 * functions and constrains the answer with a grammar, so the template itself serves as well, and
 * the search cost 636 ms of CPU at each model load here (a tiny model, 2 cores), against 18 ms.
 * A model without a template, or one node-llama-cpp's Jinja engine cannot read, gets "auto".
 */
export function chatWrapperFor(model: LlamaModel): ChatWrapper {
  const template = model.fileInfo.metadata.tokenizer?.chat_template;
  if (typeof template !== "string" || template.trim() === "") return resolveChatWrapper(model);
  return resolveChatWrapper(model, { type: "jinjaTemplate" });
}
