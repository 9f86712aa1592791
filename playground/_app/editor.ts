/// <reference lib="dom" />
/**
 * The code editor: CodeMirror 6 with its basic setup (line numbers, syntax
 * highlighting, brackets, search, undo) and the TypeScript mode.
 *
 * @module
 */

import { basicSetup, EditorView } from "codemirror";
import { javascript } from "@codemirror/lang-javascript";
import { keymap } from "@codemirror/view";

/** The editor as the page uses it. */
export interface Editor {
  /** The program in the editor. */
  text(): string;
  /** Replaces the whole program. */
  setText(text: string): void;
}

/**
 * Makes an editor inside `parent`.
 *
 * @param parent The element the editor fills.
 * @param onChange Called after every change of the text.
 * @param onRun Called on Ctrl-Enter (Cmd-Enter on a Mac).
 * @returns The editor.
 */
export function createEditor(
  parent: HTMLElement,
  onChange: () => void,
  onRun: () => void,
): Editor {
  const view = new EditorView({
    parent,
    extensions: [
      keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }]),
      basicSetup,
      javascript({ typescript: true }),
      // A long line wraps rather than hiding behind a scrollbar, as the docs site's code does.
      EditorView.lineWrapping,
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange();
      }),
    ],
  });
  return {
    text: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
  };
}
