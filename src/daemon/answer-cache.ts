import type { CaroAnswer } from "../backends/answer-request.js";

/**
 * Answers to identical requests in an identical context: the same words, shell, folder and
 * settings. Bounded; the least recently used goes first.
 */
export class AnswerCache {
  private readonly entries = new Map<string, CaroAnswer>();

  constructor(private readonly capacity = 256) {}

  get(key: string): CaroAnswer | undefined {
    const answer = this.entries.get(key);
    if (answer) {
      this.entries.delete(key);
      this.entries.set(key, answer);
    }
    return answer;
  }

  set(key: string, answer: CaroAnswer): void {
    this.entries.delete(key);
    this.entries.set(key, answer);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}
