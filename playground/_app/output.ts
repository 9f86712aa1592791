/// <reference lib="dom" />
/**
 * The output pane: what the program printed, one element per line, stderr
 * marked; `#output`'s text is the output as the program printed it.
 *
 * @module
 */

/** A printed line and its stream. */
interface Line {
  element: HTMLElement;
  stream: "stdout" | "stderr";
}

/** The output of one run, drawn as it comes. */
export class OutputPane {
  readonly #element: HTMLElement;
  #lines: Line[] = [];

  /** Draws into `element` (a `<pre>`). */
  constructor(element: HTMLElement) {
    this.#element = element;
  }

  /** Empties the pane. */
  clear(): void {
    this.#element.textContent = "";
    this.#lines = [];
  }

  /** Appends what one console call printed (without its trailing newline). */
  append(text: string, stream: "stdout" | "stderr"): void {
    const atBottom = this.#element.scrollHeight - this.#element.scrollTop -
        this.#element.clientHeight < 8;
    for (const line of text.split("\n")) {
      const element = document.createElement("span");
      element.className = `line ${stream}`;
      element.textContent = `${line}\n`;
      this.#element.append(element);
      this.#lines.push({ element, stream });
    }
    if (atBottom) this.#element.scrollTop = this.#element.scrollHeight;
  }

  /** A note of the playground's own (not the program's output): kept out of `text()`. */
  note(text: string): void {
    const element = document.createElement("span");
    element.className = "note";
    element.dataset.note = text;
    this.#element.append(element);
  }

  /** What was printed to the compared streams (stdout, or both), as text. */
  text(withStderr: boolean): string {
    return this.#compared(withStderr).map((line) => line.element.textContent).join("");
  }

  /** Marks the line at `index` among the compared streams' lines as where the output differs. */
  markMismatch(index: number | null, withStderr: boolean): void {
    const line = index === null ? undefined : this.#compared(withStderr)[index];
    line?.element.classList.add("mismatch");
    line?.element.scrollIntoView({ block: "nearest" });
  }

  #compared(withStderr: boolean): Line[] {
    return this.#lines.filter((line) => withStderr || line.stream === "stdout");
  }
}
